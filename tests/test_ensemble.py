"""`kerasseq.ensemble.train_ensemble`: members, averaging, run dir."""

import json

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from kerasseq import exporter
from kerasseq.datasets import load_dataset
from kerasseq.ensemble import train_ensemble
from kerasseq.errors import ConfigError
from kerasseq.training import TrainConfig, evaluate

DATA = {"n": 300}
MEMBERS = [
    {"model": "bag_of_embeddings", "epochs": 2,
     "hparams": {"embedding_dim": 8, "hidden_units": 8}},
    {"model": "nbsvm", "epochs": 2,
     "hparams": {"buckets": 2**10, "max_n": 2, "subword_max_n": 4,
                 "subword_buckets": 2**10}},
]


def ensemble_config(out, **changes):
    return TrainConfig(model="ensemble", data="builtin:synthetic_sentiment",
                       data_options=dict(DATA), out=str(out), batch_size=32,
                       **{"export": True, **changes})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "ensemble"
    return out, train_ensemble(ensemble_config(out, refit=True), MEMBERS,
                               verbose=0)


def test_average_of_members_matches_numpy(finished):
    out, result = finished
    data = load_dataset("builtin:synthetic_sentiment", **DATA)
    ids = result.tokenizer.texts_to_padded(data.test_texts,
                                           maxlen=result.config.maxlen)
    members = [keras.models.load_model(out / "members" / name / "model.keras")
               for name in ("0-bag_of_embeddings", "1-nbsvm")]
    expected = np.mean([m.predict(ids, verbose=0) for m in members], axis=0)
    reloaded = keras.models.load_model(out / "model.keras")
    np.testing.assert_allclose(reloaded.predict(ids, verbose=0), expected,
                               rtol=1e-5, atol=1e-6)
    accuracy = np.mean(expected.argmax(1) == np.asarray(data.test_labels))
    assert result.metrics["accuracy"] == pytest.approx(accuracy)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["model"] for m in metrics["members"]] == [
        "bag_of_embeddings", "nbsvm"]
    assert metrics["members"][1]["accuracy"] == json.loads(
        (out / "members" / "1-nbsvm" / "metrics.json").read_text()
    )["accuracy"]


def test_export_and_evaluate_work_on_the_run(finished, tmp_path):
    out, result = finished
    texts = ["a wonderful film", "a dull and boring mess"]
    rows = exporter.predict(out / "saved_model", texts)
    ids = result.tokenizer.texts_to_padded(texts, maxlen=result.config.maxlen)
    np.testing.assert_allclose(
        [list(r["probabilities"].values()) for r in rows],
        result.model.predict(ids, verbose=0), rtol=1e-5, atol=1e-6,
    )
    metrics = evaluate(out, "builtin:synthetic_sentiment",
                       out=tmp_path / "eval", data_options=dict(DATA))
    # Recomputed with scikit-learn from the saved ensemble's predictions.
    data = load_dataset("builtin:synthetic_sentiment", **DATA)
    ids = result.tokenizer.texts_to_padded(data.test_texts,
                                           maxlen=result.config.maxlen)
    predicted = keras.models.load_model(out / "model.keras").predict(
        ids, verbose=0).argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(data.test_labels, predicted))
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(data.test_labels, predicted, average="macro"))


def test_finished_run_is_refused(finished):
    out, _ = finished
    with pytest.raises(ConfigError, match="already holds a finished run"):
        train_ensemble(ensemble_config(out), MEMBERS, verbose=0)


def interrupt_training(monkeypatch, stop):
    """Make `training.train` raise KeyboardInterrupt when `stop(calls)`.

    Returns the list of the models trained (or interrupted) so far.
    """
    from kerasseq import training

    real_train = training.train
    calls = []

    def interrupted(config, verbose=1, dataset=None):
        calls.append(config.model)
        if stop(calls):
            raise KeyboardInterrupt
        return real_train(config, verbose=verbose, dataset=dataset)

    monkeypatch.setattr(training, "train", interrupted)
    return calls


def count_dataset_loads(monkeypatch):
    """Record every `load_dataset` call (ensemble's and train's)."""
    import kerasseq.datasets
    from kerasseq import ensemble

    real_load = kerasseq.datasets.load_dataset
    loads = []

    def counted(*args, **kwargs):
        loads.append(args)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(kerasseq.datasets, "load_dataset", counted)
    monkeypatch.setattr(ensemble, "load_dataset", counted)
    return loads


def test_interrupted_ensemble_refuses_other_members_then_resumes(
        tmp_path, monkeypatch):
    calls = interrupt_training(monkeypatch, lambda calls: len(calls) == 2)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train_ensemble(ensemble_config(out), MEMBERS, verbose=0)
    changed = [{**MEMBERS[0], "epochs": 3}, MEMBERS[1]]
    with pytest.raises(ConfigError, match="unfinished ensemble with other "
                       "members; use overwrite=True"):
        train_ensemble(ensemble_config(out), changed, verbose=0)
    first = out / "members" / "0-bag_of_embeddings" / "model.keras"
    before = first.stat().st_mtime
    loads = count_dataset_loads(monkeypatch)
    result = train_ensemble(ensemble_config(out), MEMBERS, verbose=0)
    # The finished member was loaded, not trained again; the data was
    # loaded once, for the member trained and the ensemble's scoring.
    assert calls == ["bag_of_embeddings", "nbsvm", "nbsvm"]
    assert len(loads) == 1
    assert first.stat().st_mtime == before
    assert (out / "metrics.json").is_file() and result.metrics["n_test"]


def test_member_repeats_average_runs_with_counted_up_seeds(tmp_path):
    out = tmp_path / "bagged"
    members = [MEMBERS[0], {**MEMBERS[1], "repeats": 2}]
    result = train_ensemble(
        ensemble_config(out, refit=True, maxlen=12, seed=3, export=False),
        members, verbose=0,
    )
    data = load_dataset("builtin:synthetic_sentiment", **DATA)
    ids = result.tokenizer.texts_to_padded(data.test_texts, maxlen=12)

    def predict(name):
        model = keras.models.load_model(out / "members" / name / "model.keras")
        return model.predict(ids, verbose=0)

    repeats = [predict("1-nbsvm-r0"), predict("1-nbsvm-r1")]
    assert not np.allclose(repeats[0], repeats[1])
    expected = (predict("0-bag_of_embeddings") + np.mean(repeats, 0)) / 2
    reloaded = keras.models.load_model(out / "model.keras")
    np.testing.assert_allclose(reloaded.predict(ids, verbose=0), expected,
                               rtol=1e-5, atol=1e-6)
    bagged = result.metrics["members"][1]
    assert [r["seed"] for r in bagged["repeats"]] == [3, 4]
    labels = np.asarray(data.test_labels)
    assert bagged["accuracy"] == pytest.approx(
        np.mean(np.mean(repeats, 0).argmax(1) == labels))


@pytest.mark.parametrize("changes, repeats, message", [
    ({"refit": True}, 0, "Expected member 1's repeats to be an int >= 1"),
    ({"maxlen": 12}, 2, "repeats=2, which needs refit=True and a fixed"),
    ({"refit": True}, 2, "repeats=2, which needs refit=True and a fixed"),
])
def test_bad_repeats(tmp_path, changes, repeats, message):
    members = [MEMBERS[0], {**MEMBERS[1], "repeats": repeats}]
    with pytest.raises(ConfigError, match=message):
        train_ensemble(ensemble_config(tmp_path / "run", **changes), members)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("members, message", [
    (MEMBERS[:1], "at least two members"),
    ([MEMBERS[0], {"epochs": 2}], "member 1 to be a dict with a 'model'"),
    ([MEMBERS[0], {"model": "nbsvm", "max_tokens": 50}],
     "member 1 sets 'max_tokens', which every member shares"),
    ([MEMBERS[0], {"model": "nbsvm", "epochs": 0}], "'epochs' must be"),
])
def test_bad_members(tmp_path, members, message):
    with pytest.raises(ConfigError, match=message):
        train_ensemble(ensemble_config(tmp_path / "run"), members)
    assert not (tmp_path / "run").exists()
