"""MicroML: scikit-learn models as verified, flash-resident C headers for microcontrollers."""

__version__ = "0.1.0"
