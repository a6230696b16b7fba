"""Recipe files: the configs they resolve to, validation, one full run."""

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import recorded_recipe_configs

from kerasseq import cli, ensemble, recipes
from kerasseq.errors import ConfigError

# The config, members and examples each recipes/NAME.py script resolved
# to (with --data DATA) before the recipes became data files.
FIXTURE = recorded_recipe_configs()
DATA = FIXTURE["data_argument"]
RECORDED = sorted(name for name in FIXTURE if name != "data_argument")

TINY = """
description = "tiny"
[config]
model = "bag_of_embeddings"
"""


def _canonical(value):
    """JSON text: 0 and 0.0 or 1 and true differ."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("name", RECORDED)
def test_recipe_resolves_to_the_recorded_config(name):
    recorded = FIXTURE[name]
    recipe = recipes.load(name)
    config, members = recipe.resolve(data=DATA)
    assert _canonical(config.to_dict()) == _canonical(recorded["config"])
    if recorded["members"] is None:
        assert members is None
    else:
        runs = ensemble.member_configs(config, members)
        assert _canonical([[c.to_dict() for c in r] for r in runs]) == (
            _canonical(recorded["members"]))
    assert list(recipe.examples) == recorded["examples"]
    assert recipe.data_file == recorded["data_file"]


def test_every_recipe_is_listed_with_its_numbers():
    assert recipes.names() == RECORDED
    listed = dict(recipes.list_recipes())
    assert sorted(listed) == RECORDED
    out = io.StringIO()
    assert recipes.recipes_command(file=out) == 0
    text = out.getvalue()
    for name in RECORDED:
        recipe = recipes.load(name)
        assert listed[name] == recipe.description
        assert recipe.examples and recipe.measured["command"]
        assert f"{name}  " in text and recipe.description in text
        assert recipe.measured["command"] in text
        assert f"test accuracy {100 * recipe.measured['accuracy']:.2f}%" in (
            text)


def test_default_data_file_comes_from_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASSEQ_DATA_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"mr\.csv\.gz.*KERASSEQ_DATA_DIR"):
        recipes.load("best_mr").resolve()
    (tmp_path / "mr.csv.gz").write_bytes(b"")
    config, _ = recipes.load("best_mr").resolve()
    assert config.data == str(tmp_path / "mr.csv.gz")
    config, _ = recipes.load("quickstart").resolve()
    assert config.data == "builtin:synthetic_sentiment"


def test_resolve_applies_the_command_line_values(tmp_path):
    config, members = recipes.load("lstm_gru_mr").resolve(
        data=DATA, overrides=["units=16", "model=bigru", "seed=3"],
        out=tmp_path / "run", epochs=1, overwrite=True)
    expected = dict(FIXTURE["lstm_gru_mr"]["config"])
    expected.update(model="bigru", seed=3, out=str(tmp_path / "run"),
                    epochs=1, overwrite=True,
                    hparams={**expected["hparams"], "units": 16})
    assert _canonical(config.to_dict()) == _canonical(expected)
    assert members is None
    with pytest.raises(ConfigError, match="unknown override key 'unit'"):
        recipes.load("lstm_gru_mr").resolve(data=DATA, overrides=["unit=1"])


def test_load_takes_a_path(tmp_path):
    path = tmp_path / "mine.toml"
    shutil.copy(recipes.FOLDER / "quickstart.toml", path)
    recipe = recipes.load(str(path))
    assert recipe.name == "mine" and recipe.path == path
    config, _ = recipe.resolve()
    assert config.out == str(Path("runs") / "mine")
    assert recipes.load(path).name == "mine"


@pytest.mark.parametrize("text, match", [
    (TINY + "\n[extra]\na = 1\n", r"unknown key 'extra'"),
    (TINY + "epochs = 0\n", r"'epochs' must be an integer >= 1"),
    (TINY + "epoch = 3\n", r"unknown config key 'epoch'"),
    (TINY + "hparams = { dim = 3 }\n",
     r"unknown hyper-parameter 'dim' in config"),
    ("[config]\nmodel = 'gru'\n", r"'description' must be set"),
    ('description = ""\n[config]\n', r"'description' must be a non-empty"),
    ('examples = "one"\n' + TINY, r"'examples' must be a list"),
    (TINY + "[measured]\naccuracy = 0.5\nacc = 1\n",
     r"unknown key 'acc' in \[measured\]"),
    (TINY + "[measured]\naccuracy = 79.9\n",
     r"\[measured\] 'accuracy' has a bad value 79\.9"),
    (TINY.replace("bag_of_embeddings", "gruu"), r"gruu"),
    (TINY + "[[members]]\nmodel = 'gru'\n", r"at least two members"),
    (TINY + "[[members]]\nmodel = 'gru'\nseed = 1\n[[members]]\n"
     "model = 'gru'\n", r"member 0 sets 'seed'"),
    (TINY + "[[members]]\nmodel = 'gru'\nhparams = { dim = 3 }\n"
     "[[members]]\nmodel = 'gru'\n",
     r"unknown hyper-parameter 'dim' in member 0"),
    ("description = 'x'\n[config\n", r"cannot read recipe"),
])
def test_bad_recipe_file_is_a_config_error(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as error:
        recipes.load(path)
    assert str(path) in str(error.value)


def test_missing_recipe_is_a_config_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"recipe file .*nope\.toml"):
        recipes.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match=r"unknown recipe 'nope'.*best_mr"):
        recipes.load("nope")
    assert cli.main(["train", "--recipe", "nope"]) == 2
    assert "error: unknown recipe 'nope'" in capsys.readouterr().err


def test_cli_lists_the_recipes(capsys):
    assert cli.main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name in recipes.names():
        assert name in out


def test_quickstart_runs_end_to_end(tmp_path, capsys):
    from kerasseq.training import load_run, predict_proba

    out, export_dir = tmp_path / "run", tmp_path / "export"
    assert cli.main([
        "train", "--recipe", "quickstart", "--out", str(out), "--epochs",
        "1", "--batch-size", "16", "--set", "units=8", "--set",
        "embedding_dim=8", "--set", "data_options.n=400", "--export-dir",
        str(export_dir)]) == 0
    printed = capsys.readouterr().out
    assert f"exported to {export_dir}" in printed
    model, tokenizer, record = load_run(out)
    assert record["config"]["epochs"] == 1
    assert record["config"]["batch_size"] == 16
    assert record["config"]["hparams"]["units"] == 8
    assert record["n_test"] == 80
    examples = list(recipes.load("quickstart").examples)
    probs = predict_proba(model, tokenizer.texts_to_sequences(examples), 32,
                          record["config"]["maxlen"])
    assert np.isfinite(probs).all()
    names = record["class_names"]
    lines = [line for line in printed.splitlines()
             if line.strip().endswith(tuple(examples))]
    assert len(lines) == len(examples)
    for line, text, row in zip(lines, examples, probs, strict=True):
        label, confidence = line.split()[:2]
        assert line.endswith(f"  {text}")
        assert label == names[int(np.argmax(row))]
        assert float(confidence) == pytest.approx(row.max(), abs=0.006)
