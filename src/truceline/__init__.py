"""truceline: monitor and verify a ceasefire from many nations\x27 observations."""

__version__ = "0.1.0"
