"""Shared fixtures: the real CSI captures beside the checkout."""

import os
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "csi-samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The folder of real captures; skip without it, but fail under CI."""
    if not SAMPLES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the real CSI samples are missing at {SAMPLES}")
        pytest.skip(f"real CSI samples not found at {SAMPLES}")
    return SAMPLES


REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real, labelled captures; skip without it, but fail under CI."""
    if not REAL_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the real labelled captures are missing at {REAL_DATA}")
        pytest.skip(f"real labelled captures not found at {REAL_DATA}")
    return REAL_DATA
