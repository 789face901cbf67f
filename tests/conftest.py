from pathlib import Path

import pytest

from veil.pipeline import Anonymizer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def anonymizer() -> Anonymizer:
    return Anonymizer()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the evaluation data in {SHARED_DATA} (../shared/data beside the repo), which is not present")
    return SHARED_DATA
