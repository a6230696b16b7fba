"""Training controls: optimizers, clipping, warm-up, label smoothing,
word and embedding dropout, gradual unfreezing; checked against NumPy."""

import csv
import json

import keras
import numpy as np
import pytest

from kerasseq import models
from kerasseq.cli import main
from kerasseq.config import TrainConfig
from kerasseq.errors import ConfigError
from kerasseq.layers import TokenDropout
from kerasseq.training import optimization, rundir, train

schedules = keras.optimizers.schedules
CONTROLS = {
    "optimizer": "sgd", "momentum": 0.5, "clipnorm": 5.0,
    "warmup_steps": 2, "lr_schedule": "linear", "label_smoothing": 0.1,
    "class_weight": "balanced", "freeze_epochs": 1, "learning_rate": 0.05,
    "embedding_lr_multiplier": 0.5,
}


@pytest.mark.parametrize("changes, cls, expected", [
    ({}, keras.optimizers.Adam, {"weight_decay": None}),
    ({"optimizer": "adamw", "weight_decay": 0.01}, keras.optimizers.AdamW,
     {"weight_decay": 0.01}),
    ({"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
     keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
    ({"optimizer": "rmsprop", "momentum": 0.5, "clipvalue": 2.0},
     keras.optimizers.RMSprop, {"momentum": 0.5, "clipvalue": 2.0}),
    ({"global_clipnorm": 1.5}, keras.optimizers.Adam,
     {"global_clipnorm": 1.5, "clipnorm": None}),
])
def test_optimizer_is_the_keras_class(changes, cls, expected):
    optimizer = optimization.optimizer(
        TrainConfig(learning_rate=0.02, **changes), None)
    assert type(optimizer) is cls
    config = optimizer.get_config()
    assert config["learning_rate"] == pytest.approx(0.02)
    for name, value in expected.items():
        assert config[name] == pytest.approx(value)


def dense_update(clipping, inputs, scale):
    """The kernel of a bias-free Dense(1) before and after one SGD step
    (learning rate 1) on the loss ``scale * sum(outputs)``."""
    import tensorflow as tf

    layer = keras.layers.Dense(1, use_bias=False)
    layer.build((None, inputs.shape[1]))
    before = layer.kernel.numpy().copy()
    optimizer = optimization.optimizer(
        TrainConfig(optimizer="sgd", learning_rate=1.0, **clipping), None)
    with tf.GradientTape() as tape:
        loss = scale * tf.reduce_sum(layer(inputs))
    gradients = tape.gradient(loss, layer.trainable_variables)
    optimizer.apply_gradients(
        zip(gradients, layer.trainable_variables, strict=True))
    return before, layer.kernel.numpy()


@pytest.mark.parametrize("clipping", [
    {"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.5},
])
def test_clipping_bounds_the_applied_gradient(clipping):
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4, 3)).astype("float32")
    scale = 1e6
    gradient = scale * inputs.sum(axis=0)[:, None]
    if "clipvalue" in clipping:
        expected = np.clip(gradient, -0.5, 0.5)
    else:
        expected = gradient * 0.5 / np.linalg.norm(gradient)
    before, after = dense_update(clipping, inputs, scale)
    np.testing.assert_allclose(before - after, expected, rtol=1e-5)
    assert np.all(np.isfinite(after))


def embedding_and_dense(optimizer_name, multiplier):
    """A compiled Embedding + Dense model and one applied step of fixed
    gradients: ``(before, after, gradients)`` per variable."""
    from kerasseq.training import fitting

    ids = keras.Input((3,), dtype="int32")
    x = keras.layers.Embedding(5, 2, name="embedding")(ids)
    outputs = keras.layers.Dense(1, name="dense")(x)
    model = keras.Model(ids, outputs)
    config = TrainConfig(optimizer=optimizer_name, learning_rate=0.1,
                         embedding_lr_multiplier=multiplier)
    fitting.compile_model(model, config, None)
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    rng = np.random.default_rng(3)
    gradients = [rng.normal(size=v.shape).astype("float32")
                 for v in variables]
    model.optimizer.apply_gradients(zip(gradients, variables, strict=True))
    return ([v.path for v in variables], before,
            [v.numpy() for v in variables], gradients)


def test_embedding_learns_at_its_multiple_of_the_rate():
    paths, before, after, gradients = embedding_and_dense("sgd", 0.1)
    for path, old, new, gradient in zip(paths, before, after, gradients,
                                        strict=True):
        rate = 0.01 if path.startswith("embedding/") else 0.1
        np.testing.assert_allclose(old - new, rate * gradient, rtol=1e-5)
    # Adam's first step is rate * sign(gradient) (up to epsilon).
    paths, before, after, gradients = embedding_and_dense("adam", 0.1)
    for path, old, new, gradient in zip(paths, before, after, gradients,
                                        strict=True):
        rate = 0.01 if path.startswith("embedding/") else 0.1
        np.testing.assert_allclose(old - new, rate * np.sign(gradient),
                                   rtol=1e-3)


def test_layer_rate_optimizer_round_trips():
    optimizer = optimization.optimizer(
        TrainConfig(optimizer="adamw"), None, {"embedding/embeddings": 0.25})
    assert isinstance(optimizer, keras.optimizers.AdamW)
    again = keras.optimizers.deserialize(
        keras.optimizers.serialize(optimizer))
    assert type(again) is type(optimizer)
    assert again.layer_rates == {"embedding/embeddings": 0.25}


def reference_rate(step, name, warmup, total, rate=0.01):
    """Linear warm-up from 0, then `name` over the remaining steps."""
    if step < warmup:
        return rate * step / warmup
    s, decay = step - warmup, total - warmup
    return {
        None: rate,
        "cosine": rate * 0.5 * (1 + np.cos(np.pi * min(s, decay) / decay)),
        "linear": rate * (1 - min(s, decay) / decay),
        "exponential": rate * 0.01 ** (s / decay),
    }[name]


@pytest.mark.parametrize("name", [None, "cosine", "linear", "exponential"])
@pytest.mark.parametrize("warmup", [{"warmup_steps": 3},
                                    {"warmup_fraction": 0.25}])
def test_warmup_then_decay_gives_the_reference_rates(name, warmup):
    import tensorflow as tf

    config = TrainConfig(learning_rate=0.01, lr_schedule=name, epochs=4,
                         **warmup)
    batches = tf.data.Dataset.range(10).batch(2)  # 5 steps, 20 in all
    schedule = optimization.learning_rate(config, batches)
    steps = [0, 1, 2, 3, 4, 5, 9, 14, 19]
    rates = [float(schedule(step)) for step in steps]
    expected = [reference_rate(step, name, warmup.get("warmup_steps", 5),
                               20) for step in steps]
    np.testing.assert_allclose(rates, expected, rtol=1e-5, atol=1e-9)
    again = schedules.deserialize(schedules.serialize(schedule))
    np.testing.assert_allclose([float(again(s)) for s in steps], expected,
                               rtol=1e-5, atol=1e-9)


def test_label_smoothing_loss_equals_the_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 3))
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([0, 2, 1, 1, 0, 2])
    weights = np.array([1.0, 2.0, 0.5, 1.0, 1.0, 3.0])
    smoothing = 0.2
    targets = (1 - smoothing) * np.eye(3)[labels] + smoothing / 3
    per_example = -(targets * np.log(probabilities)).sum(1)
    loss = optimization.loss(TrainConfig(label_smoothing=smoothing))
    got = loss(labels, probabilities.astype("float32"))
    np.testing.assert_allclose(float(got), per_example.mean(), rtol=1e-5)
    got = loss(labels[:, None], probabilities.astype("float32"),
               sample_weight=weights)
    np.testing.assert_allclose(float(got), (per_example * weights).mean(),
                               rtol=1e-5)
    assert optimization.loss(TrainConfig()) == (
        "sparse_categorical_crossentropy")


def test_word_dropout_drops_tokens_in_training_only_never_padding():
    rng = np.random.default_rng(2)
    ids = rng.integers(2, 50, size=(200, 40))
    ids[:, 25:] = 0  # right padding
    layer = TokenDropout(0.3, seed=0, replacement=1)
    np.testing.assert_array_equal(layer(ids, training=False), ids)
    dropped = np.asarray(layer(ids, training=True))
    changed = dropped != ids
    assert np.all(dropped[changed] == 1)
    assert not changed[:, 25:].any()
    tokens = 200 * 25
    share = changed.sum() / tokens
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / tokens)


@pytest.mark.parametrize("name", ["lstm", "bag_of_embeddings",
                                  "transformer"])
def test_models_with_a_token_embedding_take_both_dropouts(name):
    model = models.build(name, 30, 2, embedding_dim=8, word_dropout=0.2,
                         embedding_dropout=0.1)
    names = [layer.name for layer in model.layers]
    assert "word_dropout" in names
    assert "embedding_spatial_dropout" in names
    ids = np.array([[5, 6, 7, 0, 0]])
    np.testing.assert_array_equal(model(ids, training=False),
                                  model(ids, training=False))


class EmbeddingRecorder(keras.callbacks.Callback):
    """The embedding and head kernels at the first train begin and at
    every epoch end."""

    def __init__(self):
        super().__init__()
        self.snapshots = []

    def snapshot(self):
        from kerasseq import vectors

        table = vectors.token_embedding(self.model).embeddings
        return [np.array(table.numpy()),
                self.model.get_layer("classifier").get_weights()[0].copy()]

    def on_train_begin(self, logs=None):
        if not self.snapshots:
            self.snapshots.append(self.snapshot())

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self.snapshot())


@pytest.fixture(scope="module")
def controlled_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("controls") / "run"
    recorder = EmbeddingRecorder()
    config = TrainConfig(
        model="bag_of_embeddings", out=str(out), epochs=2, patience=None,
        export=False, data_options={"n": 200},
        hparams={"embedding_dim": 8, "hidden_units": 8,
                 "word_dropout": 0.1, "embedding_dropout": 0.1},
        **CONTROLS,
    )
    result = train(config, verbose=0, callbacks=[recorder])
    return result, recorder


def test_frozen_embedding_changes_only_after_unfreezing(controlled_run):
    _, recorder = controlled_run
    (embedding0, head0), (embedding1, head1), (embedding2, _) = (
        recorder.snapshots)
    np.testing.assert_array_equal(embedding1, embedding0)
    assert not np.allclose(head1, head0)
    assert not np.allclose(embedding2, embedding1)


def test_controlled_run_logs_every_epoch_and_reloads(controlled_run):
    result, _ = controlled_run
    with open(result.run_dir / rundir.LOG_FILE) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert all(np.isfinite(float(row["loss"])) for row in rows)
    assert np.isfinite(result.metrics["accuracy"])
    model = keras.saving.load_model(result.run_dir / rundir.MODEL_FILE)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert isinstance(model.optimizer._learning_rate,
                      optimization.LinearWarmUp)
    assert model.loss.label_smoothing == pytest.approx(0.1)


def test_config_json_records_the_controls(controlled_run):
    result, _ = controlled_run
    record = json.loads((result.run_dir / rundir.CONFIG_FILE).read_text())
    for name, value in CONTROLS.items():
        assert record["config"][name] == value
    again = TrainConfig.from_dict(record)
    assert again == result.config


def test_every_new_field_round_trips_through_json():
    config = TrainConfig(
        optimizer="adamw", weight_decay=0.02, global_clipnorm=1.0,
        clipvalue=3.0, warmup_fraction=0.1, lr_schedule="cosine",
        label_smoothing=0.05, freeze_epochs=2, embedding_lr_multiplier=0.1,
    )
    record = json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(record) == config
    strings = {key: str(value) for key, value in record.items()
               if isinstance(value, (int, float, str))}
    assert TrainConfig.from_dict(strings) == config


@pytest.mark.parametrize("values", [
    {"optimizer": "adagrad"},
    {"weight_decay": -0.1},
    {"momentum": 1.0},
    {"momentum": 0.9},  # adam has no momentum
    {"nesterov": True},  # nor nesterov
    {"clipnorm": 0},
    {"clipnorm": 1.0, "global_clipnorm": 1.0},
    {"clipvalue": float("nan")},
    {"warmup_steps": 0},
    {"warmup_fraction": 1.0},
    {"warmup_steps": 10, "warmup_fraction": 0.1},
    {"warmup_steps": 10, "lr_schedule": "plateau"},
    {"label_smoothing": 1.0},
    {"embedding_lr_multiplier": 0},
    {"freeze_epochs": 10, "epochs": 10},
    {"freeze_epochs": 1, "strategy": "multiworker"},
])
def test_bad_values_are_config_errors(values):
    with pytest.raises(ConfigError):
        TrainConfig.from_dict(values)


@pytest.mark.parametrize("argv", [
    ["--set", "optimizer=adagrad"],
    ["--set", "clipnorm=-1"],
    ["--set", "clipnorm=1", "--set", "global_clipnorm=1"],
    ["--warmup-steps", "5", "--set", "lr_schedule=plateau"],
    ["--label-smoothing", "1.5"],
    ["--freeze-epochs", "3", "--epochs", "2"],
])
def test_bad_values_exit_2_on_the_command_line(tmp_path, argv):
    out = tmp_path / "run"
    assert main(["train", "--model", "bag_of_embeddings", "--out",
                 str(out), *argv]) == 2
    assert not out.exists()


class InterruptAfter(EmbeddingRecorder):
    """Records like `EmbeddingRecorder`; Ctrl-C after epoch `epoch` (once
    the run's backup holds it)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("interrupted_epoch", [0, 1])
def test_interrupted_gradual_unfreezing_resumes(tmp_path,
                                                interrupted_epoch):
    from kerasseq.training import TrainingInterrupted

    config = TrainConfig(
        model="bag_of_embeddings", out=str(tmp_path / "run"), epochs=3,
        freeze_epochs=2, patience=None, export=False,
        data_options={"n": 200},
        hparams={"embedding_dim": 8, "hidden_units": 8},
    )
    first = InterruptAfter(interrupted_epoch)
    with pytest.raises(TrainingInterrupted):
        train(config, verbose=0, callbacks=[first])
    rerun = EmbeddingRecorder()
    result = train(config, verbose=0, callbacks=[rerun])
    # The rerun starts from the backed-up weights.
    np.testing.assert_array_equal(rerun.snapshots[0][0],
                                  first.snapshots[-1][0])
    with open(result.run_dir / rundir.LOG_FILE) as handle:
        epochs = [row["epoch"] for row in csv.DictReader(handle)]
    assert epochs == ["0", "1", "2"][:interrupted_epoch + 1] + ["1", "2"][
        interrupted_epoch:]
    assert result.metrics["epochs_run"] == 3
    embeddings = [first.snapshots[0][0]] + [
        snapshot[0] for snapshot in (first.snapshots[1:]
                                     + rerun.snapshots[1:])]
    # Frozen for epochs 0 and 1, trained in epoch 2.
    np.testing.assert_array_equal(embeddings[1], embeddings[0])
    np.testing.assert_array_equal(embeddings[2], embeddings[0])
    assert not np.allclose(embeddings[3], embeddings[2])


def test_refit_unfreezes_for_its_last_epoch(tmp_path):
    recorder = EmbeddingRecorder()
    config = TrainConfig(
        model="bag_of_embeddings", out=str(tmp_path / "run"), epochs=3,
        freeze_epochs=2, patience=None, refit=True, export=False,
        data_options={"n": 200},
        hparams={"embedding_dim": 8, "hidden_units": 8},
    )
    result = train(config, verbose=0, callbacks=[recorder])
    assert result.metrics["refit_epochs"] == 3
    # The refit's snapshots follow the validated fit's four.
    refit = [snapshot[0] for snapshot in recorder.snapshots[4:]]
    assert len(refit) == 3
    np.testing.assert_array_equal(refit[1], refit[0])
    assert not np.allclose(refit[2], refit[1])
    assert np.isfinite(result.metrics["accuracy"])


def test_lr_find_replaces_the_warmup(tmp_path):
    from kerasseq import lr_find

    config = TrainConfig(
        model="bag_of_embeddings", out=str(tmp_path / "unused"), epochs=1,
        warmup_steps=5, optimizer="sgd", momentum=0.9,
        embedding_lr_multiplier=0.5, data_options={"n": 200},
        hparams={"embedding_dim": 8, "hidden_units": 8}, export=False,
    )
    result = lr_find(config, start_lr=1e-3, end_lr=1.0, steps=10,
                     out=tmp_path / "finder")
    np.testing.assert_allclose(result.learning_rates,
                               np.geomspace(1e-3, 1.0, 10)[
                                   :len(result.learning_rates)], rtol=1e-6)


@pytest.mark.parametrize("changes", [{"freeze_epochs": 1},
                                     {"embedding_lr_multiplier": 0.1}])
def test_pretrained_layer_controls_need_a_token_embedding(changes):
    from kerasseq.training import fitting

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    with pytest.raises(ConfigError, match="need a model with a token"):
        fitting.compile_model(model, TrainConfig(**changes), None)


def _frozen_then_unfrozen(tmp_path, **changes):
    """Token tables at the start and after each of 2 epochs, the first
    frozen."""
    recorder = EmbeddingRecorder()
    values = {
        "model": "bag_of_embeddings", "out": str(tmp_path / "run"),
        "epochs": 2, "freeze_epochs": 1, "patience": None, "export": False,
        "data_options": {"n": 200},
        "hparams": {"embedding_dim": 8, "hidden_units": 8}, **changes,
    }
    train(TrainConfig(**values), verbose=0, callbacks=[recorder])
    return [snapshot[0] for snapshot in recorder.snapshots]


def test_transformer_token_table_is_frozen_then_trains(tmp_path):
    start, first, second = _frozen_then_unfrozen(
        tmp_path, model="transformer",
        hparams={"embedding_dim": 8, "num_heads": 2, "num_blocks": 1,
                 "intermediate_dim": 8})
    np.testing.assert_array_equal(first, start)
    assert not np.allclose(second, first)


def test_untrainable_vectors_stay_frozen_after_unfreezing(tmp_path):
    from kerasseq import load_dataset

    texts = load_dataset("builtin:synthetic_sentiment", n=200).train_texts
    words = sorted({word for text in texts[:20]
                    for word in text.lower().split() if word.isalpha()})
    rng = np.random.default_rng(4)
    path = tmp_path / "glove.txt"
    path.write_text("".join(
        word + " " + " ".join(f"{x:.6f}" for x in rng.normal(size=8)) + "\n"
        for word in words), encoding="utf-8")
    start, first, second = _frozen_then_unfrozen(
        tmp_path, embeddings=str(path), embeddings_trainable=False)
    np.testing.assert_array_equal(first, start)
    np.testing.assert_array_equal(second, start)
