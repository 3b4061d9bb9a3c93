"""The hostpulse host agent: psutil and the standard library only."""

__version__ = "0.1.0"
