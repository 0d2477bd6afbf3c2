"""wdp: WiFi CSI to real-time person detection, pose, tracking and occupancy."""

__version__ = "0.1.0"
