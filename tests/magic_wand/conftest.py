"""Shared fixtures of the magic_wand tests: the example's data module and TensorFlow's archive in ../shared."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# The archive lives next to the repository, never in it (see examples/magic-wand/wand_data.py).
SHARED_DATA = ROOT.parent / "shared" / "data" / "magic_wand"

sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples" / "magic-wand"))

from support import need_path  # noqa: E402


@pytest.fixture(scope="session")
def archive():
    """TensorFlow's data.tar.gz from ../shared/data/magic_wand; skip without it (fail under CI=true)."""
    import wand_data

    path = need_path(SHARED_DATA / wand_data.ARCHIVE_NAME,
                     f"TensorFlow's magic_wand data.tar.gz (download it from {wand_data.DATA_URL})")
    return wand_data.verify(path)


@pytest.fixture(scope="session")
def segments(archive):
    import wand_data

    return wand_data.load_segments(archive)


@pytest.fixture(scope="session")
def splits(archive):
    import wand_data

    return wand_data.load_splits(archive)
