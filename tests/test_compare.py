"""`kerasseq.compare`: three tiny models on the built-in corpus, the table
checked against each run's own files and a reloaded model."""

import csv
import json

import keras
import matplotlib.image
import pytest

import kerasseq  # noqa: F401  (registers the custom layers for loading)
from kerasseq.compare import compare
from kerasseq.errors import ConfigError

MODELS = ["bag_of_embeddings", "simple_rnn", "gru"]
SETTINGS = {
    "data_options": {"n": 200},
    "hparams": {"embedding_dim": 8, "units": 8, "hidden_units": 8},
    "export": False,
    "patience": None,
    "batch_size": 32,
}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "cmp"
    return compare(MODELS, "builtin:synthetic_sentiment", epochs=1, out=out,
                   **SETTINGS)


def _read(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_table_matches_each_run(comparison):
    out = comparison.out
    with (out / "comparison.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["model"] for row in rows] == MODELS
    for row in rows:
        run_dir = out / row["model"]
        metrics = _read(run_dir / "metrics.json")
        record = _read(run_dir / "config.json")
        model = keras.saving.load_model(run_dir / "model.keras")
        assert float(row["accuracy"]) == pytest.approx(metrics["accuracy"])
        assert float(row["macro_f1"]) == pytest.approx(metrics["macro_f1"])
        assert int(row["parameters"]) == sum(
            int(w.numpy().size) for w in model.weights)
        seconds = float(row["train_seconds"])
        assert seconds == pytest.approx(metrics["train_seconds"])
        assert float(row["samples_per_second"]) == pytest.approx(
            record["n_train"] / seconds)
        assert record["config"]["epochs"] == 1
    markdown = (out / "comparison.md").read_text().splitlines()
    assert len(markdown) == 2 + len(MODELS)
    assert markdown[0].startswith("| model | accuracy | macro_f1 |")


def test_same_split_seed_and_tokenizer(comparison):
    records = [_read(comparison.out / name / "config.json")
               for name in MODELS]
    for key in ("n_train", "n_validation", "n_test", "vocab_size"):
        assert len({record[key] for record in records}) == 1
    for key in ("seed", "maxlen", "max_tokens", "validation_fraction"):
        assert len({record["config"][key] for record in records}) == 1
    tokenizers = {(comparison.out / name / "tokenizer.json").read_text()
                  for name in MODELS}
    assert len(tokenizers) == 1
    # hparams go to the models that have them.
    assert "units" not in records[0]["config"]["hparams"]
    assert records[1]["config"]["hparams"]["units"] == 8


def test_plots_are_written(comparison):
    for name in ("accuracy_vs_time.png", "validation_curves.png"):
        image = matplotlib.image.imread(comparison.out / name)
        assert image.ndim == 3 and image.shape[0] > 100


@pytest.mark.parametrize(
    "models, message",
    [
        (["lstm", "lsmt"], "unknown model 'lsmt' in models"),
        ("lstm,gru,lstm", "one or more different model names"),
        ([], "one or more different model names"),
        ([3], "Expected models to be a list of model names"),
    ],
)
def test_bad_models_fail_before_training(tmp_path, models, message):
    with pytest.raises(ConfigError, match=message):
        compare(models, "builtin:synthetic_sentiment", out=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_bad_overrides_fail_before_training(tmp_path, comparison):
    with pytest.raises(ConfigError, match="belongs to none of"):
        compare(["lstm", "gru"], "builtin:synthetic_sentiment",
                out=tmp_path / "c", hparams={"num_heads": 2})
    with pytest.raises(ConfigError, match="unknown config key 'epoch'"):
        compare(["lstm"], "builtin:synthetic_sentiment",
                out=tmp_path / "c", epoch=3)
    with pytest.raises(ConfigError, match="pass overwrite=True"):
        compare(MODELS, "builtin:synthetic_sentiment", epochs=1,
                out=comparison.out, **SETTINGS)
    assert not (tmp_path / "c").exists()


def test_cli_routes_bare_hyper_parameters_and_refuses_unknown_models(
        tmp_path, capsys):
    from kerasseq.cli import main

    out = tmp_path / "c"
    assert main(["compare", "--models", "lstm,nope", "--data",
                 "builtin:synthetic_sentiment", "--out", str(out)]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    # A bare key no model has reaches compare as a hyper-parameter.
    assert main(["compare", "--models", "lstm,gru", "--data",
                 "builtin:synthetic_sentiment", "--out", str(out),
                 "--set", "num_heads=2"]) == 2
    assert "'num_heads' belongs to none of" in capsys.readouterr().err
    assert not out.exists()
