"""camrobust: how robust are Class Activation Maps to input noise."""

__version__ = "0.1.0"
