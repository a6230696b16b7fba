"""Records the config each recipes/*.py script resolves to today.

Run once before the recipes became data files: the fixture it writes,
tests/data/recipe_configs.json, is what the recipe files must reproduce.
"""

import importlib.util
import json
from pathlib import Path

from kerasseq import ensemble, training

REPO = Path(__file__).resolve().parents[2]
DATA = "data/fixed.csv"


def record(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config, export_dir = training.recipe_config(
        path.stem, module.DEFAULTS, argv=["--data", DATA])
    entry = {
        "data": module.DEFAULTS.get("data", None),
        "export_dir": str(export_dir),
        "examples": module.EXAMPLES,
        "config": config.to_dict(),
        "members": None,
    }
    data_file = None
    source = path.read_text()
    if 'data_file="' in source:
        data_file = source.split('data_file="')[1].split('"')[0]
    entry["data_file"] = data_file
    members = getattr(module, "MEMBERS", None)
    if members is not None:
        entry["members"] = [[c.to_dict() for c in runs] for runs in
                            ensemble.member_configs(config, members)]
    return entry


def main():
    fixture = {"data_argument": DATA}
    for path in sorted((REPO / "recipes").glob("*.py")):
        fixture[path.stem] = record(path)
    out = REPO / "tests" / "data" / "recipe_configs.json"
    out.write_text(json.dumps(fixture, indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
