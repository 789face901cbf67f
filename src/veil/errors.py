"""veil's exception hierarchy: every failure a user can cause is a VeilError with a one-line message."""


class VeilError(Exception):
    """Base class of every error veil raises on purpose."""


class InvalidInputError(VeilError, ValueError):
    """The input file is unreadable, corrupt, truncated or of a kind veil refuses."""


class UnsupportedInputError(InvalidInputError):
    """The input is valid but veil cannot anonymize it safely (e.g. an animated image)."""


class ModelError(VeilError):
    """A model could not be found or failed its integrity check."""


class OutputError(VeilError, OSError):
    """The output could not be written (or would overwrite an input)."""
