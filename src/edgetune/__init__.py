"""edgetune: find the learning parameters of an Akida edge-learning layer, as a DVC pipeline."""

__version__ = "0.1.0"
