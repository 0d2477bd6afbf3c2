"""The sensing tier for real hardware: motion, presence, activity and falls from CSI
amplitudes of any link shape and rate, calibrated per room and learned from real labels.
"""
