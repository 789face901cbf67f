from veil.redact.modes import MODES, Blur, Pixelate, Solid
from veil.redact.redactor import Redactor
from veil.redact.regions import SHAPES, Region

__all__ = ["MODES", "SHAPES", "Blur", "Pixelate", "Redactor", "Region", "Solid"]
