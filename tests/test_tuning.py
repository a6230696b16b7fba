"""Hyper-parameter search: space parsing, trial selection, outputs, resume.

Two real trials (tiny bag-of-embeddings model on the built-in corpus)
check the files, the selection and the resume; the other search tests
replace `train` with a stub that writes a run's history.
"""

import csv
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from kerasseq import tuning
from kerasseq.errors import ConfigError, DataError
from kerasseq.training import TrainConfig, TrainingInterrupted

# KerasTuner's oracle still calls threading.currentThread().getName().
pytestmark = pytest.mark.filterwarnings(
    "ignore:(currentThread|getName):DeprecationWarning"
)

BASE = {
    "model": "bag_of_embeddings",
    "data": "builtin:synthetic_sentiment",
    "epochs": 1,
    "hparams": {"embedding_dim": 8, "hidden_units": 0},
}
# Two searched dimensions keep the real trials small.
SPACE = ("dropout=0.0:0.5", "learning_rate=1e-3:3e-2:log")


def _dims(config, space=()):
    return {dim.name: dim for dim in tuning.search_space(config, space)}


def _read_rows(out):
    with (Path(out) / "leaderboard.csv").open(newline="") as file:
        return list(csv.DictReader(file))


# ------------------------------------------------------------- the space


def test_default_space_covers_declared_hyperparameters():
    dims = _dims({"model": "lstm"})
    assert dims["embedding_dim"] == tuning.Dimension(
        "embedding_dim", "hparams", low=8, high=512, log=True)
    assert dims["dropout"] == tuning.Dimension(
        "dropout", "hparams", low=0.0, high=0.5)
    assert dims["bidirectional"].choices == (False, True)
    assert dims["pooling"].choices == ("last", "max", "mean", "attention")
    assert dims["learning_rate"] == tuning.Dimension(
        "learning_rate", "config", low=1e-4, high=1e-2, log=True)
    assert dims["batch_size"].choices == (16, 32, 64)
    assert isinstance(dims["num_layers"].low, int)


def test_named_values_stay_fixed():
    dims = _dims({"model": "lstm", "learning_rate": 0.01,
                  "hparams": {"units": 8}})
    assert "units" not in dims and "learning_rate" not in dims
    assert "batch_size" in dims


def test_space_entries_add_and_override():
    dims = _dims({"model": "lstm"}, [
        "units=8:32", "hparams.embedding_dim=4,8", "batch_size=8,128",
        "learning_rate=1e-3:1e-1:log", "lr_schedule=none,cosine",
        "patience=1:3", "bidirectional=true",
    ])
    assert dims["units"] == tuning.Dimension("units", "hparams", 8, 32)
    assert dims["embedding_dim"].choices == (4, 8)
    assert dims["batch_size"].choices == (8, 128)
    assert (dims["learning_rate"].low, dims["learning_rate"].high,
            dims["learning_rate"].log) == (1e-3, 1e-1, True)
    # None and a string: one type for KerasTuner, coerced back by config.
    assert dims["lr_schedule"].choices == ("none", "cosine")
    assert dims["patience"] == tuning.Dimension("patience", "config", 1, 3)
    assert dims["bidirectional"].choices == (True,)


def test_trial_config_maps_values_and_hyperband_epochs(tmp_path):
    dims = tuning.search_space(BASE, ["lr_schedule=none,cosine"])
    values = {"dropout": 0.25, "word_dropout": 0.1,
              "embedding_dropout": 0.0, "hidden_activation": "tanh",
              "learning_rate": 0.005, "batch_size": 16,
              "lr_schedule": "none", "tuner/epochs": 3,
              "tuner/initial_epoch": 1}
    config = tuning.trial_config(BASE, dims, values, tmp_path / "t")
    parsed = TrainConfig.from_dict(config)
    assert parsed.hparams == {
        "embedding_dim": 8, "hidden_units": 0, "dropout": 0.25,
        "word_dropout": 0.1, "embedding_dropout": 0.0,
        "hidden_activation": "tanh"}
    assert (parsed.learning_rate, parsed.batch_size, parsed.epochs,
            parsed.lr_schedule) == (0.005, 16, 3, None)
    assert parsed.out == str(tmp_path / "t") and not parsed.export


@pytest.mark.parametrize("entry, words", [
    ("bogus=1:2", "unknown name 'bogus'"),
    ("hparams.seed=1:2", "unknown name 'seed'"),
    ("units", "expected name=low:high"),
    ("units=", "expected name=low:high"),
    ("units=:8", "needs both bounds"),
    ("units=32:16", "inverted range"),
    ("units=16:16", "inverted range"),
    ("units=16:32:linear", "low:high:log"),
    ("units=1:2:3:4", "low:high:log"),
    ("units=1.5:8", "must be an integer"),
    ("units=16,16", "repeated"),
    ("pooling=last,,max", "empty choice"),
    ("pooling=last,bogus", "must be one of"),
    ("pooling=last:max", "two numbers"),
    ("dropout=0:2", "in [0.0, 1.0)"),
    ("dropout=0.1,nan", "finite"),
    ("dropout=0.0:0.5:log", "log range needs low > 0"),
    ("learning_rate=nan:1e-2", "learning_rate"),
    ("learning_rate=1e-4:inf", "finite"),
    ("learning_rate=1e-3,inf", "finite"),
    ("learning_rate=-1:1", "learning_rate"),
    ("maxlen=none:64", "two numbers"),
    ("data=a,b", "cannot be searched"),
    ("seed=0:3", "cannot be searched"),
])
def test_bad_space_entries_are_config_errors(entry, words):
    with pytest.raises(ConfigError) as error:
        tuning.search_space({"model": "lstm"}, [entry])
    assert words in str(error.value) and repr(entry) in str(error.value)


def _fail_train(config, verbose=0):
    raise AssertionError("train must not run")


@pytest.mark.parametrize("changes, words", [
    ({"max_trials": 0}, "max_trials"),
    ({"search": "grid"}, "unknown search"),
    ({"time_budget": 0}, "time budget"),
    ({"time_budget": math.nan}, "time budget"),
    ({"space": ["bogus=1:2"]}, "unknown name"),
    ({"search": "hyperband", "space": ["epochs=1:3"]}, "hyperband"),
    ({"config": {**BASE, "model": "nope"}}, "unknown model"),
    ({"config": {**BASE, "epochs": 0}}, "epochs"),
    ({"config": {**BASE, "hparams": {"units": 4}}}, "unknown hyper"),
    ({"config": {**BASE, "hparams": {"dropout": 2.0}}}, "dropout"),
    ({"config": {"model": "bag_of_embeddings", "learning_rate": 0.01,
                 "batch_size": 8, "hparams": {
                     "embedding_dim": 8, "dropout": 0.0, "word_dropout": 0.0,
                     "embedding_dropout": 0.0, "hidden_units": 0,
                     "hidden_activation": "relu"}}}, "nothing to search"),
])
def test_bad_settings_fail_before_training(tmp_path, monkeypatch, changes,
                                           words):
    monkeypatch.setattr(tuning, "train", _fail_train)
    arguments = {"config": BASE, "out": tmp_path / "search", **changes}
    with pytest.raises(ConfigError) as error:
        tuning.tune(**{"verbose": 0, **arguments})
    assert words in str(error.value)
    assert not (tmp_path / "search").exists()


# ------------------------------------------- searches with a stub train


def _stub_train(calls, score=None):
    """A `train` that records its configs and writes a history whose best
    val_accuracy is `score(config)` (default: from the learning rate)."""

    def fake_train(config, verbose=0):
        config = TrainConfig.from_dict(config)
        calls.append(config)
        best = (score or (lambda c: 1 - c.learning_rate))(config)
        out = Path(config.out)
        out.mkdir(parents=True)
        (out / "history.json").write_text(json.dumps(
            {"val_accuracy": [best - 0.1, best, best - 0.2]}))
        return SimpleNamespace(metrics={"accuracy": 0.5})

    return fake_train


@pytest.mark.parametrize("search", ["random", "bayesian"])
def test_search_picks_best_validation_score(tmp_path, monkeypatch, search):
    calls = []
    monkeypatch.setattr(tuning, "train", _stub_train(calls))
    result = tuning.tune(BASE, out=tmp_path, max_trials=4, search=search,
                         space=SPACE, verbose=0)
    assert len(calls) == 4
    best = min(calls, key=lambda c: c.learning_rate)
    assert result.best_config["learning_rate"] == best.learning_rate
    assert result.best_score == pytest.approx(1 - best.learning_rate)
    assert result.best_trial_id == Path(best.out).name


def test_hyperband_sets_trial_epochs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tuning, "train", _stub_train(calls))
    result = tuning.tune({**BASE, "epochs": 3}, out=tmp_path, max_trials=5,
                         search="hyperband", space=SPACE, verbose=0)
    assert len(calls) == 5
    epochs = {Path(c.out).name: c.epochs for c in calls}
    assert set(epochs.values()) == {1, 3}
    for row in result.leaderboard:
        assert row["epochs"] == epochs[row["trial_id"]]


def test_time_budget_stops_new_trials(tmp_path, monkeypatch):
    calls = []
    stub = _stub_train(calls)

    def slow_train(config, verbose=0):
        import time

        time.sleep(0.3)
        return stub(config, verbose)

    monkeypatch.setattr(tuning, "train", slow_train)
    result = tuning.tune(BASE, out=tmp_path, max_trials=3, space=SPACE,
                         time_budget=0.2, verbose=0)
    assert len(calls) == 1 and len(result.leaderboard) == 1


def test_trial_with_conflicting_values_fails_and_search_goes_on(
        tmp_path, monkeypatch):
    calls = []
    stub = _stub_train(calls)

    attempts = []

    def picky_train(config, verbose=0):
        attempts.append(config)
        if len(attempts) == 1:
            raise ConfigError("these values do not fit together")
        return stub(config, verbose)

    monkeypatch.setattr(tuning, "train", picky_train)
    result = tuning.tune(BASE, out=tmp_path, max_trials=3, space=SPACE,
                         verbose=0)
    statuses = [row["status"] for row in result.leaderboard]
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED"]
    assert result.leaderboard[-1]["rank"] is None


def test_data_error_stops_the_search(tmp_path):
    with pytest.raises(DataError):
        tuning.tune({**BASE, "data": str(tmp_path / "missing.csv")},
                    out=tmp_path / "search", max_trials=2, space=SPACE,
                    verbose=0)


def test_overwrite_starts_over_and_changed_search_is_refused(
        tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tuning, "train", _stub_train(calls))
    tuning.tune(BASE, out=tmp_path, max_trials=2, space=SPACE, verbose=0)
    with pytest.raises(ConfigError, match="different space"):
        tuning.tune(BASE, out=tmp_path, max_trials=2,
                    space=["dropout=0.1,0.2"], verbose=0)
    result = tuning.tune(BASE, out=tmp_path, max_trials=1, space=SPACE,
                         overwrite=True, verbose=0)
    assert len(calls) == 3 and len(result.leaderboard) == 1
    assert sorted(p.name for p in (tmp_path / "trials").iterdir()) == ["0"]


# ------------------------------------------------------ real training


@pytest.fixture(scope="module")
def resumed_search(tmp_path_factory):
    """A 1-trial search, extended to 2 trials and interrupted right after
    the second trial trained, then resumed; train() calls per call."""
    out = tmp_path_factory.mktemp("search")
    calls = []
    real_train = tuning.train

    def counting_train(config, verbose=0):
        calls[-1] += 1
        return real_train(config, verbose=verbose)

    def interrupted_train(config, verbose=0):
        counting_train(config, verbose)
        raise TrainingInterrupted("Ctrl-C before the tuner saved the trial")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tuning, "train", counting_train)
        calls.append(0)
        tuning.tune(BASE, out=out, max_trials=1, space=SPACE, verbose=0)
        calls.append(0)
        patch.setattr(tuning, "train", interrupted_train)
        with pytest.raises(TrainingInterrupted):
            tuning.tune(BASE, out=out, max_trials=2, space=SPACE, verbose=0)
        calls.append(0)
        patch.setattr(tuning, "train", counting_train)
        result = tuning.tune(BASE, out=out, max_trials=2, space=SPACE,
                             verbose=0)
    return out, calls, result


def test_resume_does_not_rerun_finished_trials(resumed_search):
    out, calls, result = resumed_search
    assert calls == [1, 1, 0]
    assert [row["status"] for row in result.leaderboard] == ["COMPLETED"] * 2


def test_best_trial_has_best_validation_score(resumed_search):
    out, _, result = resumed_search
    scores = {}
    for run_dir in (out / "trials").iterdir():
        history = json.loads((run_dir / "history.json").read_text())
        scores[run_dir.name] = max(history["val_accuracy"])
    best = max(sorted(scores), key=scores.get)
    assert result.best_trial_id == best
    assert result.best_score == pytest.approx(scores[best])
    rows = _read_rows(out)
    assert [row["trial_id"] for row in rows] == sorted(
        scores, key=lambda trial: (-scores[trial], trial))
    for row in rows:
        assert float(row["val_accuracy"]) == pytest.approx(
            scores[row["trial_id"]], abs=1e-5)
        metrics = json.loads(
            (Path(row["run_dir"]) / "metrics.json").read_text())
        assert float(row["test_accuracy"]) == pytest.approx(
            metrics["accuracy"], abs=1e-5)


def test_outputs_and_best_config_round_trip(resumed_search):
    out, _, result = resumed_search
    for name in ("leaderboard.csv", "leaderboard.md", "trials.png",
                 "best_config.json"):
        assert (out / name).stat().st_size > 0
    saved = json.loads((out / "best_config.json").read_text())
    config = TrainConfig.from_dict(saved)
    assert config.to_dict() == saved == result.best_config
    assert config.out == str(out / "best") and config.export
    best_run = json.loads(
        (out / "trials" / result.best_trial_id / "config.json").read_text())
    trained = best_run["config"]
    for key in ("learning_rate", "batch_size", "epochs", "model", "data"):
        assert saved[key] == trained[key]
    assert saved["hparams"] == trained["hparams"]
    markdown = (out / "leaderboard.md").read_text().splitlines()
    assert markdown[0].startswith("| rank | trial_id | status | dropout")
    assert len(markdown) == 2 + len(result.leaderboard)


def test_cli_tune_runs_a_search_and_names_the_best_config(tmp_path, capsys):
    from kerasseq.cli import main

    out = tmp_path / "search"
    assert main(["tune", "--space", "learning_rate=1e-2:1e-4", "--model",
                 "bag_of_embeddings", "--data", "builtin:synthetic_sentiment",
                 "--out", str(out)]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert not out.exists()
    assert main(["tune", "--model", "bag_of_embeddings", "--data",
                 "builtin:synthetic_sentiment", "--out", str(out),
                 "--max-trials", "1", "--epochs", "1",
                 "--space", "embedding_dim=4,8", "--set", "hidden_units=8",
                 "--set", "data_options.n=200", "--set", "patience=none",
                 "--set", "learning_rate=0.01", "--set", "batch_size=32"
                 ]) == 0
    printed = capsys.readouterr().out
    assert f"--config {out / 'best_config.json'}" in printed
    best = TrainConfig.from_dict(
        json.loads((out / "best_config.json").read_text()))
    assert best.hparams["embedding_dim"] in (4, 8)
    assert best.hparams["hidden_units"] == 8
