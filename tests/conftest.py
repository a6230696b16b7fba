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


def recorded_recipe_configs():
    """tests/data/recipe_configs.json: the configs the recipe scripts
    resolved to before recipes became files. Fields added to `TrainConfig`
    since then take their defaults (the scripts could not set them)."""
    import dataclasses
    import json

    from kerasseq.config import TrainConfig

    defaults = {
        field.name: (field.default_factory()
                     if field.default_factory is not dataclasses.MISSING
                     else field.default)
        for field in dataclasses.fields(TrainConfig)
    }
    recorded = json.loads(
        (REPO / "tests" / "data" / "recipe_configs.json").read_text())

    def complete(config):
        return {**{k: v for k, v in defaults.items() if k not in config},
                **config}

    for name, entry in recorded.items():
        if name == "data_argument":
            continue
        entry["config"] = complete(entry["config"])
        if entry["members"] is not None:
            entry["members"] = [[complete(run) for run in runs]
                                for runs in entry["members"]]
    return recorded
