"""Simulator: a physics-based WiFi CSI simulator with scenarios and ground truth.

One module per concern: the room and its reflectors (``room``), the radio channel
(``channel``), what real radios add (``impairments``), the hardware formats
(``profiles``), and the people side (bodies, motion, scenarios).
"""
