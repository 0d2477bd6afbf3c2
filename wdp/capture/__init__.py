"""Capture: CSI frames from real capture files, live UDP sources and (later) the simulator."""

from wdp.capture.frame import HW_FORMATS, CsiFrame, FrameBatch, sort_key

__all__ = ["HW_FORMATS", "CsiFrame", "FrameBatch", "sort_key"]
