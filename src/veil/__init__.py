"""veil: anonymize every face in photos, videos and live streams, and prove it."""

from veil.detections import Detections
from veil.errors import InvalidInputError, ModelError, OutputError, UnsupportedInputError, VeilError
from veil.pipeline import AnonymizeResult, Anonymizer, anonymize_image
from veil.redact import Region

__version__ = "0.1.0"
__all__ = [
    "AnonymizeResult", "Anonymizer", "Detections", "InvalidInputError", "ModelError", "OutputError",
    "Region", "UnsupportedInputError", "VeilError", "anonymize_image",
]
