"""census-audit: quality audit and post-enumeration survey engine for a population census."""

__version__ = "0.1.0"
