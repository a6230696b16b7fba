"""`kerasseq.training`: config validation, one run end to end, resume."""

import json

import keras
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from kerasseq import models
from kerasseq.errors import ConfigError, DataError
from kerasseq.text import Tokenizer
from kerasseq.training import (
    TrainConfig,
    TrainingInterrupted,
    apply_overrides,
    evaluate,
    train,
)

TINY_DATA = {"n": 300}
TINY = {"embedding_dim": 8, "units": 8}
RUN_FILES = (
    "run.json", "config.json", "training_log.csv", "metrics.json",
    "history.json", "confusion_matrix.png", "training_curves.png",
    "errors.csv", "attention.html", "model.keras", "tokenizer.json",
    "environment.json", "saved_model/kerasseq.json",
)


def tiny_config(out, **changes):
    values = {
        "model": "bag_of_embeddings",
        "data": "builtin:synthetic_sentiment",
        "out": str(out),
        "epochs": 2,
        "batch_size": 32,
        "data_options": dict(TINY_DATA),
        "hparams": {"embedding_dim": 8, "hidden_units": 8},
        "export": False,
        **changes,
    }
    return TrainConfig(**values)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "bahdanau"
    config = tiny_config(out, model="bilstm_bahdanau", hparams=TINY,
                         export=True, patience=None)
    return config, train(config, verbose=0)


# ------------------------------------------------------------------ config


def test_defaults():
    config = TrainConfig()
    assert config.model == "bilstm_bahdanau"
    assert config.data == "builtin:synthetic_sentiment"
    assert config.out == "runs/bilstm_bahdanau"
    assert (config.epochs, config.batch_size, config.maxlen) == (10, 32, None)
    assert (config.max_tokens, config.patience, config.strategy) == (
        20000, 2, "auto")


def test_from_dict_coerces_command_line_strings():
    config = TrainConfig.from_dict({
        "epochs": "3", "learning_rate": "3e-4", "maxlen": "none",
        "bucketing": "false", "lr_schedule": "Cosine", "patience": "none",
        "devices": "/gpu:0, /gpu:1", "class_weight": "balanced",
    })
    assert config.epochs == 3 and config.learning_rate == 3e-4
    assert config.maxlen is None and config.patience is None
    assert config.bucketing is False and config.lr_schedule == "cosine"
    assert config.devices == ["/gpu:0", "/gpu:1"]
    assert config.class_weight == "balanced"


def test_from_dict_round_trips():
    config = TrainConfig(epochs=4, hparams={"units": 16}, maxlen=40)
    assert TrainConfig.from_dict(config.to_dict()) == config


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="unknown config key 'epoch'") as e:
        TrainConfig.from_dict({"epoch": 3})
    for key in ("epochs", "batch_size", "learning_rate", "hparams"):
        assert key in str(e.value)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"epochs": 0}, "'epochs' must be an integer >= 1; got 0"),
        ({"epochs": "two"}, "'epochs' must be an integer >= 1; got 'two'"),
        ({"maxlen": 0}, "'maxlen' must be an integer >= 1 or none"),
        ({"batch_size": -1}, "'batch_size' must be an integer >= 1"),
        ({"max_tokens": 2}, "'max_tokens' must be an integer >= 3"),
        ({"validation_fraction": 1.0}, "between 0 and 1"),
        ({"learning_rate": 0},
         "'learning_rate' must be a finite number > 0"),
        ({"lr_schedule": "step"},
         "one of: none, cosine, linear, exponential, plateau"),
        ({"strategy": "tpu"}, "one of: auto, none, mirrored, multiworker"),
        ({"class_weight": "auto"}, "one of: none, balanced"),
        ({"bucketing": "maybe"}, "'bucketing' must be true or false"),
        ({"jit_compile": "maybe"},
         "'jit_compile' must be true, false or none"),
        ({"hparams": [1]}, "'hparams' must be a dict"),
        ({"refit": True, "strategy": "multiworker"},
         "refit is not supported with strategy 'multiworker'"),
    ],
)
def test_invalid_values_name_key_and_fix(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        TrainConfig.from_dict(values)


def test_direct_construction_is_validated_too():
    with pytest.raises(ConfigError, match="'seed' must be an integer >= 0"):
        TrainConfig(seed=-1)


def test_apply_overrides_routes_keys():
    values = apply_overrides(
        {"model": "lstm"},
        ["epochs=3", "units=16", "hparams.dropout=0.1",
         "data_options.text_column=review", "lr_schedule=plateau"],
    )
    assert values["epochs"] == "3" and values["lr_schedule"] == "plateau"
    assert values["hparams"] == {"units": 16, "dropout": 0.1}
    assert values["data_options"] == {"text_column": "review"}
    config = TrainConfig.from_dict(values)
    assert config.epochs == 3


def test_apply_overrides_unknown_key_lists_config_and_hparams():
    with pytest.raises(ConfigError, match="unknown override key 'unit'") as e:
        apply_overrides({"model": "lstm"}, ["unit=3"])
    assert "learning_rate" in str(e.value) and "units" in str(e.value)
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, ["epochs"])


# ------------------------------------------------------- bad input, no dir


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"data": "missing.csv", "data_options": {}}, DataError,
         "file not found"),
        ({"model": "nope"}, ConfigError, "unknown model 'nope'"),
        ({"hparams": {"embedding_dim": 0}}, ConfigError, "embedding_dim"),
        ({"hparams": {"units": 8}}, ConfigError, "unknown hyper-parameter"),
        ({"model": "transformer", "maxlen": 40,
          "hparams": {"max_length": 16}}, ConfigError,
         "maxlen 40 exceeds max_length 16 of model 'transformer'"),
    ],
)
def test_bad_input_leaves_no_run_dir(tmp_path, changes, error, message):
    out = tmp_path / "parent" / "run"
    with pytest.raises(error, match=message):
        train(tiny_config(out, **changes), verbose=0)
    assert not (tmp_path / "parent").exists()


def test_foreign_non_empty_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a kerasseq run"):
        train(tiny_config(tmp_path, overwrite=True), verbose=0)
    assert (tmp_path / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------- end to end


def test_run_dir_holds_every_artifact(finished_run):
    config, result = finished_run
    for name in RUN_FILES:
        assert (result.run_dir / name).is_file(), name
    assert json.loads((result.run_dir / "run.json").read_text())[
        "status"] == "finished"
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "confusion_matrix", "per_class",
                "epochs_run", "train_seconds", "n_test"):
        assert key in metrics
    assert metrics["epochs_run"] == config.epochs
    assert metrics["n_test"] == 60  # 20 % of n=300
    history = json.loads((result.run_dir / "history.json").read_text())
    assert len(history["loss"]) == len(history["val_loss"]) == config.epochs


def test_metrics_match_numpy_reference(finished_run):
    _, result = finished_run
    run_dir = result.run_dir
    model = keras.saving.load_model(run_dir / "model.keras")
    tokenizer = Tokenizer.from_json((run_dir / "tokenizer.json").read_text())
    record = json.loads((run_dir / "config.json").read_text())
    from kerasseq.datasets import load_dataset

    data = load_dataset("builtin:synthetic_sentiment", **TINY_DATA)
    maxlen = record["config"]["maxlen"]
    ids = np.zeros((len(data.test_texts), maxlen), dtype="int32")
    for row, seq in enumerate(tokenizer.texts_to_sequences(data.test_texts)):
        seq = seq[:maxlen]
        ids[row, : len(seq)] = seq
    predicted = np.argmax(model.predict(ids, verbose=0), axis=1)
    accuracy = float(np.mean(predicted == data.test_labels))
    matrix = np.zeros((2, 2), dtype=int)
    np.add.at(matrix, (data.test_labels, predicted), 1)
    assert result.metrics["accuracy"] == pytest.approx(accuracy)
    assert result.metrics["confusion_matrix"] == matrix.tolist()


def test_config_json_reruns_and_environment(finished_run):
    config, result = finished_run
    record = json.loads((result.run_dir / "config.json").read_text())
    resolved = TrainConfig.from_dict(record["config"])
    assert resolved.maxlen == result.tokenizer.maxlen >= 1
    assert resolved.hparams == models.resolve_hparams(
        config.model, **config.hparams)
    assert record["vocab_size"] == result.tokenizer.vocab_size
    assert record["class_names"] == ["negative", "positive"]
    env = json.loads((result.run_dir / "environment.json").read_text())
    for key in ("kerasseq", "keras", "tensorflow", "numpy", "python",
                "backend", "device", "strategy", "replicas",
                "mixed_precision"):
        assert key in env
    assert env["cudnn_eligible"] == models.cudnn_eligible(result.model)
    assert env["replicas"] == 1


def test_finished_run_is_refused(finished_run):
    config, result = finished_run
    before = (result.run_dir / "metrics.json").read_bytes()
    with pytest.raises(ConfigError, match="already holds a finished run; "
                       "use overwrite=True or another out=DIR"):
        train(config, verbose=0)
    assert (result.run_dir / "metrics.json").read_bytes() == before


def test_written_config_json_round_trips(finished_run):
    _, result = finished_run
    with open(result.run_dir / "config.json", encoding="utf-8") as file:
        assert TrainConfig.from_dict(json.load(file)) == result.config


def test_train_evaluate_and_score_agree_with_sklearn(finished_run,
                                                     tmp_path):
    """train's and evaluate's metrics both come from `score`; both equal
    scikit-learn's, recomputed from the saved model's own predictions."""
    from sklearn.metrics import accuracy_score, f1_score

    from kerasseq.datasets import load_dataset
    from kerasseq.training import score

    _, result = finished_run
    data = load_dataset("builtin:synthetic_sentiment", **TINY_DATA)
    maxlen = result.config.maxlen
    ids = np.zeros((len(data.test_texts), maxlen), dtype="int32")
    sequences = result.tokenizer.texts_to_sequences(data.test_texts)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq[:maxlen])] = seq[:maxlen]
    model = keras.saving.load_model(result.run_dir / "model.keras")
    probabilities = model.predict(ids, verbose=0)
    predicted = probabilities.argmax(axis=1)
    expected = {
        "accuracy": accuracy_score(data.test_labels, predicted),
        "macro_f1": f1_score(data.test_labels, predicted, average="macro"),
    }
    evaluated = evaluate(result.run_dir, "builtin:synthetic_sentiment",
                         out=tmp_path / "eval", data_options=TINY_DATA)
    for key, value in expected.items():
        assert result.metrics[key] == pytest.approx(value), key
        assert evaluated[key] == pytest.approx(value), key
    scores = score(model, result.tokenizer, data.test_texts,
                   data.test_labels, class_names=result.class_names,
                   batch_size=7, maxlen=maxlen)
    assert np.isfinite(scores.y_prob).all()
    np.testing.assert_allclose(scores.y_prob, probabilities, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(scores.y_true, data.test_labels)
    assert scores.texts == list(data.test_texts)


def test_evaluate_run_dir(finished_run, tmp_path):
    _, result = finished_run
    metrics = evaluate(result.run_dir, "builtin:synthetic_sentiment",
                       out=tmp_path / "eval", data_options=TINY_DATA)
    # Recomputed with scikit-learn from the saved model's predictions.
    from kerasseq.datasets import load_dataset

    data = load_dataset("builtin:synthetic_sentiment", **TINY_DATA)
    model = keras.saving.load_model(result.run_dir / "model.keras")
    ids = result.tokenizer.texts_to_padded(data.test_texts,
                                           maxlen=result.config.maxlen)
    predicted = model.predict(ids, verbose=0).argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(
        accuracy_score(data.test_labels, predicted))
    assert metrics["macro_f1"] == pytest.approx(
        f1_score(data.test_labels, predicted, average="macro"))
    assert (tmp_path / "eval" / "metrics.json").is_file()
    csv_file = tmp_path / "other.csv"
    csv_file.write_text("text,label\n" + "".join(
        f"text {i},{'abc'[i % 3]}\n" for i in range(30)))
    with pytest.raises(DataError, match="labels the model was not trained"):
        evaluate(result.run_dir, str(csv_file))


class _StopAtSecondEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_to_the_same_epoch_count(
    tmp_path, monkeypatch, capsys
):
    from kerasseq.training import fitting

    config = tiny_config(tmp_path / "run", epochs=3, patience=None,
                         lr_schedule="plateau", bucketing=False)
    original = fitting.callbacks
    monkeypatch.setattr(
        fitting, "callbacks",
        lambda *a: [*original(*a), _StopAtSecondEpoch()],
    )
    with pytest.raises(TrainingInterrupted, match="resume from epoch 2"):
        train(config, verbose=0)
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "run.json").read_text())["status"] == (
        "running")
    assert not (run_dir / "model.keras").exists()
    monkeypatch.setattr(fitting, "callbacks", original)
    result = train(config, verbose=0)
    assert "resuming the unfinished run" in capsys.readouterr().out
    assert result.metrics["epochs_run"] == 3
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["loss"]) == 3
    assert not (run_dir / "backup").exists()


def test_changed_config_does_not_resume(tmp_path, monkeypatch):
    from kerasseq.training import fitting

    run_dir = tmp_path / "run"
    monkeypatch.setattr(fitting, "callbacks",
                        lambda *a: [_StopAtSecondEpoch()])
    with pytest.raises(TrainingInterrupted):
        train(tiny_config(run_dir), verbose=0)
    with pytest.raises(ConfigError, match=r"different config \(.*seed"):
        train(tiny_config(run_dir, seed=1), verbose=0)


def test_overwrite_replaces_a_finished_run(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"status": "finished"}')
    (run_dir / "stale.txt").write_text("old")
    result = train(
        tiny_config(run_dir, epochs=1, overwrite=True, lr_schedule="cosine",
                    class_weight="balanced", max_tokens=50),
        verbose=0,
    )
    assert not (run_dir / "stale.txt").exists()
    record = json.loads((run_dir / "config.json").read_text())
    assert record["config"]["lr_schedule"] == "cosine"
    assert record["vocab_size"] == 50
    assert result.metrics["epochs_run"] == 1


@pytest.mark.slow
def test_mixed_precision_restores_policy_and_matches_float32(tmp_path):
    result = train(tiny_config(tmp_path / "run", epochs=1,
                               mixed_precision=True), verbose=0)
    env = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert env["mixed_precision"] is True
    assert keras.mixed_precision.global_policy().name == "float32"
    # The trained weights in a float32 model give the same probabilities
    # up to float16 rounding (about 5e-4 relative per operation).
    reference = models.build(result.config.model,
                             result.tokenizer.vocab_size, 2,
                             **result.config.hparams)
    reference.set_weights(result.model.get_weights())
    from kerasseq.datasets import load_dataset

    data = load_dataset("builtin:synthetic_sentiment", **TINY_DATA)
    ids = result.tokenizer.texts_to_padded(data.test_texts,
                                           maxlen=result.config.maxlen)
    mixed = result.model.predict(ids, verbose=0)
    assert mixed.dtype == np.float32 and np.isfinite(mixed).all()
    np.testing.assert_allclose(mixed, reference.predict(ids, verbose=0),
                               atol=5e-3)


# Order-aware models; the bags (of embeddings, of n-grams) are not.
# Bags of words or of n-grams (ngram_bag, nbsvm) are not sequence models.
SEQUENCE_MODELS = [n for n in models.names()
                   if "bag" not in n and n != "nbsvm"]


@pytest.mark.slow
def test_sequence_models_beat_bag_of_embeddings(tmp_path):
    """Word order decides the synthetic labels; a bag of words cannot."""
    def accuracy(name):
        config = TrainConfig(
            model=name, data="builtin:synthetic_sentiment",
            out=str(tmp_path / name), epochs=10, patience=3,
            learning_rate=3e-3, export=False, data_options={"n": 4000},
        )
        return train(config, verbose=0).metrics["accuracy"]

    baseline = accuracy("bag_of_embeddings")
    scores = {name: accuracy(name) for name in SEQUENCE_MODELS}
    print(f"bag_of_embeddings {baseline:.4f}", json.dumps(scores, indent=1))
    for name, score in scores.items():
        assert score >= baseline + 0.05, (name, score, baseline)


# ----------------------------------------------------------------- recipes


def test_tokenizer_options_reach_the_saved_tokenizer(tmp_path):
    config = TrainConfig.from_dict(apply_overrides(
        {"model": "bag_of_embeddings", "data": "builtin:synthetic_sentiment",
         "out": str(tmp_path / "run"), "epochs": 1, "export": False,
         "data_options": dict(TINY_DATA), "bucketing": False},
        ["mask_digits=true", "split_symbols=yes"],
    ))
    assert config.mask_digits and config.split_symbols
    train(config, verbose=0)
    tokenizer = Tokenizer.from_json(
        (tmp_path / "run" / "tokenizer.json").read_text(encoding="utf-8")
    )
    assert (tokenizer.mask_digits, tokenizer.split_symbols) == (True, True)
    # The reloaded options act: digits masked, symbols kept as tokens.
    tokenizer.fit_on_texts(["win £100!"])
    assert {"win", "£", "000", "!"} <= set(tokenizer.word_index)


def test_jit_compile_reaches_the_model(tmp_path):
    # Fixed [batch, 8] batches: XLA compiles each shape once.
    config = TrainConfig.from_dict(apply_overrides(
        {"model": "bag_of_embeddings", "data": "builtin:synthetic_sentiment",
         "out": str(tmp_path / "run"), "epochs": 1, "export": False,
         "data_options": dict(TINY_DATA), "bucketing": False, "maxlen": 8},
        ["jit_compile=true"],
    ))
    result = train(config, verbose=0)
    assert result.model.jit_compile is True
    environment = json.loads((tmp_path / "run" / "environment.json")
                             .read_text())
    assert environment["jit_compile"] is True
    assert TrainConfig().jit_compile is None


def test_refit_trains_on_all_training_examples(tmp_path, monkeypatch):
    from kerasseq import pipeline
    from kerasseq.datasets import load_dataset

    real_make_dataset = pipeline.make_dataset
    shuffled_sizes = []

    def spy(sequences, labels=None, **kwargs):
        if kwargs.get("shuffle", True):
            shuffled_sizes.append(len(sequences))
        return real_make_dataset(sequences, labels, **kwargs)

    monkeypatch.setattr(pipeline, "make_dataset", spy)
    config = tiny_config(tmp_path / "run", epochs=4, patience=1, refit=True,
                         bucketing=False)
    result = train(config, verbose=0)
    data = load_dataset("builtin:synthetic_sentiment", **TINY_DATA)
    # Training sets: the training part (90%), then all of train.
    assert shuffled_sizes == [216, len(data.train_texts)] == [216, 240]
    log = json.loads((tmp_path / "run" / "history.json").read_text())
    best = int(np.argmin(log["val_loss"])) + 1
    assert result.metrics["refit_epochs"] == best
    assert result.metrics["refit_seconds"] > 0
    # The reported model is the refit one: the saved model and the
    # metrics come from it (recomputed here from its predictions).
    reloaded = keras.models.load_model(tmp_path / "run" / "model.keras")
    ids = result.tokenizer.texts_to_padded(data.test_texts,
                                           maxlen=result.config.maxlen)
    predicted = reloaded.predict(ids, verbose=0).argmax(axis=1)
    accuracy = float(np.mean(predicted == np.asarray(data.test_labels)))
    assert result.metrics["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    # Its tokenizer is fitted on all of train (saved, and recorded).
    everything = Tokenizer(num_words=result.config.max_tokens)
    everything.fit_on_texts(data.train_texts)
    assert result.tokenizer.to_json() == everything.to_json()
    assert (tmp_path / "run" / "tokenizer.json").read_text() == (
        everything.to_json())
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["vocab_size"] == everything.vocab_size
