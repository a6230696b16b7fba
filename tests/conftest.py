"""Shared fixtures."""

from pathlib import Path

import pytest

from kerasseq.files import data_dir

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_datasets():
    """Folder with the real `*.csv.gz` datasets; skips when absent."""
    path = data_dir()
    if not (path / "mr.csv.gz").is_file():
        pytest.skip(f"real datasets not found in {path}")
    return path
