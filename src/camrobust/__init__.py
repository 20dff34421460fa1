"""camrobust: how robust are Class Activation Maps to input noise."""

from camrobust.plugins import register_cam

__all__ = ["register_cam"]
__version__ = "0.1.0"
