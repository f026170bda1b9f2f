"""vendorscope: find high-risk vendors' equipment, prove it, judge it, track its removal."""

__version__ = "0.1.0"
