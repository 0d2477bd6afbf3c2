"""Shared fixtures: the real CSI captures beside the checkout."""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SAMPLES = SHARED / "csi-samples"
REAL_DATA = SHARED / "real-data"


def _shared_folder(path: Path, what: str) -> Path:
    """``path`` if present; otherwise skip, but fail under CI (CI must test real data)."""
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the {what} are missing at {path}")
        pytest.skip(f"{what} not found at {path}")
    return path


@pytest.fixture(scope="session")
def samples() -> Path:
    """The folder of real captures; skip without it, but fail under CI."""
    return _shared_folder(SAMPLES, "real CSI samples")


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real, labelled captures; skip without it, but fail under CI."""
    return _shared_folder(REAL_DATA, "real labelled captures")
