"""Shared fixtures."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir():
    env = os.environ.get("KERASSEQ_DATA_DIR")
    if env:
        return Path(env)
    return REPO.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets():
    """Folder with the real `*.csv.gz` datasets; skips when absent."""
    path = _shared_dir()
    if not (path / "mr.csv.gz").is_file():
        pytest.skip(f"real datasets not found in {path}")
    return path
