"""The detector protocol and the registry that maps a model name to its detector class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from veil.detections import Detections
from veil.errors import ModelError
from veil.models import ModelSpec, get_model


@runtime_checkable
class Detector(Protocol):
    """One forward pass of a face model on an 8-bit RGB image at the image's own resolution."""

    model: ModelSpec
    default_threshold: float

    def forward(self, rgb: np.ndarray, threshold: float) -> Detections: ...


_DETECTORS: dict[str, Callable[..., Detector]] = {}


def register_detector(*model_names: str) -> Callable[[type], type]:
    """Class decorator: ``@register_detector("centerface")`` makes the class buildable by model name."""

    def wrap(cls: type) -> type:
        for name in model_names:
            _DETECTORS[name] = cls
        return cls

    return wrap


def _load_builtin() -> None:
    import veil.detect.centerface  # noqa: F401  (each module registers its detector)
    import veil.detect.retinaface  # noqa: F401


def detector_names() -> list[str]:
    """Models veil can redact with (the registry also holds models used only by the audit)."""
    _load_builtin()
    return sorted(_DETECTORS)


def create_detector(model_name: str, **kwargs) -> Detector:
    _load_builtin()
    spec = get_model(model_name)
    try:
        factory = _DETECTORS[model_name]
    except KeyError:
        raise ModelError(f"model {model_name!r} is not a detector; detectors: {', '.join(sorted(_DETECTORS))}") from None
    return factory(spec, **kwargs)
