"""Extending `train` from Python: callbacks, TensorBoard, class-weight
dicts, learning-rate schedules, and errors that name Python arguments
(the command line names its options instead)."""

import collections
import csv
import json

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from kerasseq.cli import main
from kerasseq.config import TrainConfig, command_line_wording
from kerasseq.errors import ConfigError
from kerasseq.training import fitting, optimization, train

schedules = keras.optimizers.schedules
CLASSES = ["negative", "positive"]
# ExponentialDecay(0.01, decay_steps=5, decay_rate=0.5), as NumPy.
SCHEDULE = (0.01, 5, 0.5)


def tiny_config(out, **changes):
    values = {
        "model": "bag_of_embeddings", "out": str(out), "epochs": 3,
        "patience": None, "export": False,
        "data_options": {"n": 300},
        "hparams": {"embedding_dim": 8, "hidden_units": 8},
        **changes,
    }
    return TrainConfig(**values)


def exponential(step, initial, decay_steps, rate):
    return initial * rate ** (np.asarray(step) / decay_steps)


class CountingCallback(keras.callbacks.Callback):
    """Counts its calls and the training batches of each epoch."""

    def __init__(self):
        super().__init__()
        self.calls = collections.Counter()
        self.epochs = []
        self.batches = []

    def on_train_begin(self, logs=None):
        self.calls["train_begin"] += 1

    def on_train_end(self, logs=None):
        self.calls["train_end"] += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.calls["epoch_begin"] += 1
        self.batches.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.batches[-1] += 1

    def on_epoch_end(self, epoch, logs=None):
        self.calls["epoch_end"] += 1
        self.epochs.append(epoch)


@pytest.fixture(scope="module")
def extended_run(tmp_path_factory):
    """A run with a callback, TensorBoard, a Python schedule and a
    class-weight dict; records the ``class_weight`` given to fit."""
    out = tmp_path_factory.mktemp("extended") / "run"
    counter = CountingCallback()
    schedule = schedules.ExponentialDecay(
        SCHEDULE[0], decay_steps=SCHEDULE[1], decay_rate=SCHEDULE[2])
    config = tiny_config(out, tensorboard=True, learning_rate=schedule,
                         class_weight={"positive": 3.0})
    given = []
    original_fit = keras.Model.fit

    def recording_fit(model, *args, **kwargs):
        given.append(kwargs.get("class_weight"))
        return original_fit(model, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keras.Model, "fit", recording_fit)
        result = train(config, verbose=0, callbacks=[counter])
    return result, counter, given, schedule


def training_log(run_dir):
    with (run_dir / "training_log.csv").open(newline="") as file:
        return list(csv.DictReader(file))


def events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def scalars(accumulator, tag):
    return {event.step: float(_tensor(event.tensor_proto))
            for event in accumulator.Tensors(tag)}


def _tensor(proto):
    import tensorflow as tf

    return tf.make_ndarray(proto)


# --------------------------------------------------------------- callbacks


def test_callbacks_are_called_once_per_epoch(extended_run):
    _, counter, _, _ = extended_run
    assert counter.calls == {"train_begin": 1, "train_end": 1,
                             "epoch_begin": 3, "epoch_end": 3}
    assert counter.epochs == [0, 1, 2]
    assert all(batches > 0 for batches in counter.batches)


def test_refit_calls_the_callbacks_again(tmp_path):
    counter = CountingCallback()
    result = train(tiny_config(tmp_path / "run", epochs=1, refit=True,
                               tensorboard=True),
                   verbose=0, callbacks=[counter])
    refit_epochs = result.metrics["refit_epochs"]
    assert counter.calls == {"train_begin": 2, "train_end": 2,
                             "epoch_begin": 1 + refit_epochs,
                             "epoch_end": 1 + refit_epochs}
    refit_log = events(tmp_path / "run" / "tensorboard" / "refit" / "train")
    assert sorted(scalars(refit_log, "epoch_loss")) == list(
        range(refit_epochs))


@pytest.mark.parametrize("callbacks", [[print], keras.callbacks.History(),
                                       "tensorboard"])
def test_callbacks_must_be_keras_callbacks(tmp_path, callbacks):
    with pytest.raises(ConfigError, match="keras.callbacks.Callback"):
        train(tiny_config(tmp_path / "run"), verbose=0, callbacks=callbacks)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------- TensorBoard


def test_tensorboard_scalars_equal_the_training_log(extended_run):
    result, _, _, _ = extended_run
    rows = training_log(result.run_dir)
    logs = result.run_dir / "tensorboard"
    train_events, val_events = events(logs / "train"), events(
        logs / "validation")
    for accumulator, prefix in ((train_events, ""), (val_events, "val_")):
        for metric in ("loss", "accuracy"):
            logged = scalars(accumulator, f"epoch_{metric}")
            assert sorted(logged) == [0, 1, 2]
            expected = [float(row[prefix + metric]) for row in rows]
            np.testing.assert_allclose(
                [logged[epoch] for epoch in range(3)], expected,
                rtol=1e-6)


def test_tensorboard_learning_rate_follows_the_schedule(extended_run):
    result, counter, _, _ = extended_run
    logged = scalars(events(result.run_dir / "tensorboard" / "train"),
                     "epoch_learning_rate")
    steps = np.cumsum(counter.batches)  # optimizer steps at each epoch end
    np.testing.assert_allclose([logged[epoch] for epoch in range(3)],
                               exponential(steps, *SCHEDULE), rtol=1e-6)


def test_tensorboard_holds_the_model_graph(extended_run):
    result, _, _, _ = extended_run
    accumulator = events(result.run_dir / "tensorboard" / "train")
    metadata = accumulator.SummaryMetadata("keras")
    assert metadata.plugin_data.plugin_name == "graph_keras_model"
    (event,) = accumulator.Tensors("keras")
    graph = json.loads(_tensor(event.tensor_proto).item())
    assert graph["config"]["name"] == "bag_of_embeddings"
    layers = [layer["class_name"] for layer in graph["config"]["layers"]]
    assert layers[0] == "InputLayer" and "Embedding" in layers


def test_tensorboard_is_off_by_default(tmp_path):
    assert TrainConfig().tensorboard is False
    assert fitting.tensorboard(tmp_path).log_dir == str(tmp_path)
    config = tiny_config(tmp_path)
    assert not any(isinstance(c, keras.callbacks.TensorBoard)
                   for c in fitting.callbacks(config, tmp_path))


# ------------------------------------------------------------ class weight


def test_class_weight_dict_reaches_fit(extended_run):
    result, _, given, _ = extended_run
    assert given == [{0: 1.0, 1: 3.0}]
    record = json.loads((result.run_dir / "config.json").read_text())
    assert record["config"]["class_weight"] == {"negative": 1.0,
                                                "positive": 3.0}
    assert result.config.class_weight == {"negative": 1.0, "positive": 3.0}


@pytest.mark.parametrize("weights, expected", [
    ({"positive": 3}, {"negative": 1.0, "positive": 3.0}),
    ({0: 2.5}, {"negative": 2.5, "positive": 1.0}),
    ({"1": 4.0, "negative": 0.5}, {"negative": 0.5, "positive": 4.0}),
])
def test_class_weight_by_name(weights, expected):
    assert fitting.class_weight_by_name(weights, CLASSES) == expected
    config = TrainConfig(class_weight=weights)
    assert fitting.class_weights(config, np.array([0, 1]), CLASSES) == (
        dict(enumerate(expected.values())))


def test_class_weight_digit_keys_are_names_first():
    assert fitting.class_weight_by_name({"1": 2.0}, ["0", "1", "2"]) == {
        "0": 1.0, "1": 2.0, "2": 1.0}


@pytest.mark.parametrize("weights", [{"postive": 2.0}, {2: 1.0}])
def test_unknown_class_is_refused_before_the_run_dir(tmp_path, weights):
    out = tmp_path / "runs" / "run"
    with pytest.raises(ConfigError) as error:
        train(tiny_config(out, class_weight=weights), verbose=0)
    message = str(error.value)
    assert "class_weight names an unknown class" in message
    assert "known classes: 'negative', 'positive'" in message
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("weights", [
    {}, {"positive": -1.0}, {"positive": float("nan")}, {"positive": "2"},
    {-1: 2.0}, {True: 2.0}, "auto",
])
def test_bad_class_weight_values(weights):
    with pytest.raises(ConfigError, match="'class_weight' must be one of: "
                       "none, balanced; or a dict of class name or index"):
        TrainConfig(class_weight=weights)


def test_class_weight_dict_from_json_config():
    config = TrainConfig.from_dict(json.loads(
        '{"class_weight": {"positive": 2}}'))
    assert config.class_weight == {"positive": 2}
    assert TrainConfig.from_dict({"class_weight": "Balanced"}).class_weight \
        == "balanced"


# --------------------------------------------------------------- schedules


def learning_rates(schedule, steps):
    optimizer = keras.optimizers.Adam(schedule)
    rates = []
    for step in steps:
        optimizer.iterations.assign(step)
        rates.append(float(keras.ops.convert_to_numpy(
            optimizer.learning_rate)))
    return np.array(rates)


STEPS = np.array([0, 1, 5, 10, 19, 20])
TOTAL = 20  # 4 epochs of 5 batches


@pytest.mark.parametrize("name, formula", [
    ("cosine", lambda s: 0.01 * 0.5 * (1 + np.cos(np.pi * s / TOTAL))),
    ("linear", lambda s: 0.01 * (1 - s / TOTAL)),
    ("exponential", lambda s: 0.01 * 0.01 ** (s / TOTAL)),
])
def test_lr_schedules_follow_their_formulas(name, formula):
    import tensorflow as tf

    config = TrainConfig(learning_rate=0.01, lr_schedule=name, epochs=4)
    batches = tf.data.Dataset.range(10).batch(2)
    rates = learning_rates(optimization.learning_rate(config, batches), STEPS)
    np.testing.assert_allclose(rates, formula(STEPS), rtol=1e-6, atol=1e-9)


def test_python_schedule_is_used_and_round_trips_through_json():
    schedule = schedules.PiecewiseConstantDecay([4, 10], [1e-2, 1e-3, 1e-4])
    config = TrainConfig(learning_rate=schedule)
    assert optimization.learning_rate(config, None) is schedule
    record = json.loads(json.dumps(config.to_dict()))
    assert record["learning_rate"]["class_name"] == "PiecewiseConstantDecay"
    again = TrainConfig.from_dict({"config": record})
    assert isinstance(again.learning_rate, schedules.PiecewiseConstantDecay)
    assert again.learning_rate.get_config() == schedule.get_config()
    expected = np.select([STEPS <= 4, STEPS <= 10], [1e-2, 1e-3], 1e-4)
    np.testing.assert_allclose(learning_rates(again.learning_rate, STEPS),
                               expected, rtol=1e-6)


def test_run_records_its_schedule(extended_run):
    result, _, _, schedule = extended_run
    record = json.loads((result.run_dir / "config.json").read_text())
    again = TrainConfig.from_dict(record)
    assert again.learning_rate.get_config() == schedule.get_config()
    np.testing.assert_allclose(learning_rates(again.learning_rate, STEPS),
                               exponential(STEPS, *SCHEDULE), rtol=1e-6)


def test_schedule_and_lr_schedule_together_are_refused():
    schedule = schedules.ExponentialDecay(0.01, 10, 0.5)
    with pytest.raises(ConfigError, match="learning_rate is a schedule, so "
                       "lr_schedule must be none; got 'plateau'"):
        TrainConfig(learning_rate=schedule, lr_schedule="plateau")


@pytest.mark.parametrize("value", [
    {"class_name": "NoSuchSchedule", "config": {}}, {"units": 3},
])
def test_bad_serialized_schedule(value):
    with pytest.raises(ConfigError, match="'learning_rate' holds a dict "
                       "that is not a serialized"):
        TrainConfig.from_dict({"learning_rate": value})


# --------------------------------------------- Python arguments, CLI flags


def finished_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text('{"status": "finished"}')
    return run_dir


def cli_error(capsys, *argv):
    assert main(["train", "--model", "bag_of_embeddings", *argv]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("error: ")]
    assert len(lines) == 1
    return lines[0]


def test_finished_run_error_names_arguments_or_flags(tmp_path, capsys):
    run_dir = finished_run_dir(tmp_path)
    with pytest.raises(ConfigError) as error:
        train(tiny_config(run_dir), verbose=0)
    assert str(error.value).endswith(
        "already holds a finished run; use overwrite=True or another "
        "out=DIR")
    assert "--" not in str(error.value)
    line = cli_error(capsys, "--out", str(run_dir))
    assert line.endswith("already holds a finished run; use --overwrite "
                         "or another --out DIR")


def test_out_file_error_names_argument_or_flag(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    with pytest.raises(ConfigError) as error:
        train(tiny_config(taken), verbose=0)
    assert str(error.value).startswith(f"out={str(taken)!r} is a file")
    line = cli_error(capsys, "--out", str(taken))
    assert line.startswith(f"error: --out {taken} is a file")


def test_max_length_error_names_hparams(tmp_path):
    changes = {"model": "transformer", "maxlen": 40,
               "hparams": {"max_length": 16}}
    with pytest.raises(ConfigError) as error:
        train(tiny_config(tmp_path / "run", **changes), verbose=0)
    assert str(error.value).endswith(
        "lower maxlen or raise max_length (hparams={'max_length': 40})")


@pytest.mark.parametrize("python, command", [
    ("use overwrite=True or another out=DIR",
     "use --overwrite or another --out DIR"),
    ("out='my runs/a' is a file", "--out 'my runs/a' is a file"),
    ("(hparams={'max_length': 40})", "(--set max_length=40)"),
    ("data_options={'n': 3, 'seed': 1}",
     "--set data_options.n=3 --set data_options.seed=1"),
    ("needs refit=True and a fixed maxlen (e.g. maxlen=64)",
     "needs --refit and a fixed maxlen (e.g. --maxlen 64)"),
    ("or refit=False", "or --set refit=false"),
    ("bucketing=False, jit_compile=None", "--no-bucketing, --jit-compile "
     "none"),
    ("set --set epochs=N or repeats=2", "set --set epochs=N or repeats=2"),
    ("call train again with the same config to resume",
     "rerun the same command to resume"),
    ("unknown override key 'x'", "unknown --set key 'x'"),
    ("rerun with overwrite=True to start over",
     "rerun with --overwrite to start over"),
])
def test_command_line_wording(python, command):
    assert command_line_wording(python) == command
