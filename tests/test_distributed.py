"""Data-parallel training on TensorFlow's engine, without GPUs.

* ``MirroredStrategy`` over two logical CPU devices of one process.
* ``MultiWorkerMirroredStrategy`` with two worker processes on 127.0.0.1,
  each configured by its own ``TF_CONFIG``. ``Model.fit`` fails under it
  in Keras 3 (keras-team/keras#20585: the train step reduces scalar logs
  with ``axis=0``), so kerasseq trains with its own loop
  (``training.distribution.fit_multiworker``); it is checked here against
  ``Model.fit`` on one device, and run end to end through ``python -m
  kerasseq train --strategy multiworker``.

Both train the same small kerasseq model with kerasseq's strategy,
sharding and model-building code and compare with one device: same seed,
same data, same global batch. Every process is started with a timeout and
killed when it runs over.

Tolerance: with an unshuffled dataset a replicated step computes the same
gradient as one device, only summed in another order (per replica, then
all-reduced), so float32 rounding (~1e-7 relative per operation) is all
that differs; over 30 Adam steps this stays far below ``LOSS_RTOL = 1e-5``
for losses and ``WEIGHT_ATOL = 1e-5`` for weights of order 0.1.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.slow

LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-5
# TensorFlow re-seeds a shuffle when it distributes a dataset, so a
# shuffled kerasseq.train run sees other batches than on one device: its
# losses after 3 epochs agree only to about 1e-3.
SHUFFLED_LOSS_ATOL = 0.01
# `kerasseq train --strategy multiworker` against `--strategy none`: other
# batch orders (the re-seeded shuffle) and the dropped last partial batch
# (8 of 216 examples) move the epoch-mean losses by about 0.01 after two
# epochs at learning rate 0.03. The loop itself is held to LOSS_RTOL on
# unshuffled data in test_multiworker_two_processes.
CLI_LOSS_ATOL = 0.03
TIMEOUT = 300

WORKER = r'''
"""python worker.py MODE OUT: train, write OUT/result.json."""
import csv
import json
import os
import sys
from pathlib import Path

import tensorflow as tf

mode, out = sys.argv[1], sys.argv[2]
if mode.startswith("mirrored"):
    # Two logical CPUs; must happen before TensorFlow initializes.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerasseq import models, training  # noqa: E402
from kerasseq.training import distribution, fitting, rundir  # noqa: E402
from kerasseq.datasets import load_dataset  # noqa: E402
from kerasseq.pipeline import make_dataset  # noqa: E402
from kerasseq.text import Tokenizer  # noqa: E402

SMALL = {"embedding_dim": 8, "hidden_units": 8, "dropout": 0.0}


def replica_values(strategy, model):
    return [
        [np.asarray(v).tolist()
         for v in strategy.experimental_local_results(w.value)]
        for w in model.weights
    ]


def unshuffled_data():
    """Tokenised synthetic data in fixed full batches of 32."""
    data = load_dataset("builtin:synthetic_sentiment", n=400)
    tokenizer = Tokenizer(num_words=300).fit_on_texts(data.train_texts)

    def batches(texts, labels, drop_remainder):
        return make_dataset(
            tokenizer.texts_to_sequences(texts), labels, batch_size=32,
            maxlen=24, shuffle=False, pad_to_maxlen=True,
            drop_remainder=drop_remainder,
        )

    return (data, tokenizer,
            batches(data.train_texts, data.train_labels, True),
            batches(data.test_texts, data.test_labels, False))


def fit(strategy_name, devices=None):
    """kerasseq's strategy, sharding and model code on unshuffled data.

    Under MultiWorkerMirroredStrategy, kerasseq's own loop
    (``training.distribution.fit_multiworker``) trains; otherwise ``Model.fit``.
    """
    config = training.TrainConfig(strategy=strategy_name, devices=devices,
                                  epochs=3, batch_size=32, patience=None)
    strategy = distribution.make_strategy(config)
    data, tokenizer, dataset, validation = unshuffled_data()
    if strategy_name != "none":
        dataset = distribution.shard(dataset)
    keras.utils.set_random_seed(3)
    with strategy.scope():
        model = models.build("bag_of_embeddings", tokenizer.vocab_size,
                             data.num_classes, **SMALL)
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=False)
    if strategy_name == "multiworker":
        run_dir = Path(out) / "loop"
        run_dir.mkdir()
        trained = distribution.fit_multiworker(
            config, model, strategy, (dataset, validation),
            fitting.callbacks(config, run_dir, backup=False), None,
            verbose=0)
        with open(run_dir / rundir.LOG_FILE) as file:
            rows = list(csv.DictReader(file))
        history = {key: [float(row[key]) for row in rows]
                   for key in ("loss", "val_loss")}
        weights = [[w.tolist()] for w in trained.get_weights()]
    else:
        history = model.fit(dataset, validation_data=validation, epochs=3,
                            verbose=0).history
        weights = replica_values(strategy, model)
    return {
        "loss": history["loss"],
        "val_loss": history["val_loss"],
        "replicas": weights,
        "num_replicas": strategy.num_replicas_in_sync,
        "strategy": type(strategy).__name__,
    }


def run_train(strategy_name, devices=None):
    """The whole kerasseq.train path (shuffled, bucketed batches)."""
    result = training.train(training.TrainConfig(
        model="bag_of_embeddings", out=f"{out}/train_{strategy_name}",
        strategy=strategy_name, devices=devices, epochs=3, seed=3,
        patience=None, export=False, data_options={"n": 400},
        hparams=SMALL,
    ), verbose=0)
    environment = json.loads(
        (result.run_dir / "environment.json").read_text())
    return {
        "loss": json.loads(
            (result.run_dir / "history.json").read_text())["loss"],
        "replicas": replica_values(result.model.distribute_strategy,
                                   result.model),
        "environment": environment,
    }


results = {}
# One MirroredStrategy per process: a second one over the same devices
# can reuse the first one's collective keys.
if mode == "mirrored":
    results["distributed"] = fit("mirrored", ["/cpu:0", "/cpu:1"])
    results["single"] = fit("none")
elif mode == "mirrored_train":
    results["distributed"] = run_train("mirrored", ["/cpu:0", "/cpu:1"])
    results["single"] = run_train("none")
else:
    results["distributed"] = fit("multiworker")
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:
        results["single"] = fit("none")
with open(f"{out}/result.json", "w") as file:
    json.dump(results, file)
'''


def _env(**extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": "", **extra}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _run_all(commands, cwd):
    """Runs processes side by side; kills all of them on a timeout."""
    processes = [
        subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for command, env in commands
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT)[0])
    except subprocess.TimeoutExpired:
        pytest.fail(f"distributed training did not finish in {TIMEOUT} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output[-4000:]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _weights(result):
    """Per weight, the list of per-replica arrays."""
    return [[np.asarray(v) for v in w] for w in result["replicas"]]


def _assert_replicas_identical(result, replicas):
    for per_replica in _weights(result):
        assert len(per_replica) == replicas
        for value in per_replica[1:]:
            np.testing.assert_array_equal(value, per_replica[0])


def _assert_matches_single(distributed, single):
    for key in ("loss", "val_loss"):
        assert np.isfinite(distributed[key]).all()
        np.testing.assert_allclose(distributed[key], single[key],
                                   rtol=LOSS_RTOL)
    assert distributed["loss"][-1] < distributed["loss"][0] - 0.01
    for dist_w, single_w in zip(_weights(distributed), _weights(single),
                                strict=True):
        np.testing.assert_allclose(dist_w[0], single_w[0], atol=WEIGHT_ATOL)


@pytest.fixture(scope="module")
def worker_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("distributed") / "worker.py"
    path.write_text(WORKER)
    return path


def test_mirrored_two_logical_cpus(worker_script, tmp_path):
    commands = []
    for mode in ("mirrored", "mirrored_train"):
        (tmp_path / mode).mkdir()
        commands.append(([sys.executable, str(worker_script), mode,
                          str(tmp_path / mode)], _env()))
    _run_all(commands, tmp_path)
    results = json.loads((tmp_path / "mirrored" / "result.json").read_text())
    distributed, single = results["distributed"], results["single"]
    assert distributed["strategy"] == "MirroredStrategy"
    assert distributed["num_replicas"] == 2
    _assert_replicas_identical(distributed, 2)
    _assert_matches_single(distributed, single)

    # The whole kerasseq.train path with strategy="mirrored".
    trained = json.loads(
        (tmp_path / "mirrored_train" / "result.json").read_text())
    environment = trained["distributed"]["environment"]
    assert environment["strategy"] == "MirroredStrategy"
    assert environment["replicas"] == 2
    _assert_replicas_identical(trained["distributed"], 2)
    losses = trained["distributed"]["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    np.testing.assert_allclose(losses, trained["single"]["loss"],
                               atol=SHUFFLED_LOSS_ATOL)


def test_multiworker_two_processes(worker_script, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    commands = []
    for index in range(2):
        out = tmp_path / f"worker{index}"
        out.mkdir()
        tf_config = json.dumps({"cluster": cluster,
                                "task": {"type": "worker", "index": index}})
        commands.append(([sys.executable, str(worker_script), "multiworker",
                          str(out)], _env(TF_CONFIG=tf_config)))
    _run_all(commands, tmp_path)
    chief, other = (json.loads((tmp_path / f"worker{i}" / "result.json")
                               .read_text()) for i in range(2))
    for result in (chief, other):
        # TensorFlow's class behind tf.distribute.MultiWorkerMirroredStrategy.
        assert result["distributed"]["strategy"] == (
            "CollectiveAllReduceStrategy")
        assert result["distributed"]["num_replicas"] == 2
    for chief_w, other_w in zip(_weights(chief["distributed"]),
                                _weights(other["distributed"]),
                                strict=True):
        np.testing.assert_array_equal(chief_w[0], other_w[0])
    np.testing.assert_array_equal(chief["distributed"]["loss"],
                                  other["distributed"]["loss"])
    _assert_matches_single(chief["distributed"], chief["single"])


# Runs the `kerasseq` command like `python -m kerasseq` and saves the final
# weights of the model `train` returns, since a worker other than the
# chief writes nothing in --out.
SPY = r"""
import runpy
import sys

import numpy as np

from kerasseq import training

dump = sys.argv.pop(1)
train = training.train


def spy(*args, **kwargs):
    result = train(*args, **kwargs)
    np.savez(dump, *result.model.get_weights())
    return result


training.train = spy
runpy.run_module("kerasseq", run_name="__main__", alter_sys=True)
"""

CLI_TRAIN = [
    "train", "--model", "bag_of_embeddings", "--epochs", "2",
    "--batch-size", "16", "--maxlen", "16", "--seed", "3", "--quiet",
    "--set", "data_options.n=300", "--set", "embedding_dim=8",
    "--set", "hidden_units=8", "--set", "learning_rate=0.03",
    "--set", "bucketing=false", "--set", "patience=none",
    "--set", "export=false",
]


def test_cli_multiworker_two_processes(tmp_path):
    from kerasseq import training

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    commands = [
        ([sys.executable, "-m", "kerasseq", *CLI_TRAIN, "--strategy",
          "multiworker", "--out", str(tmp_path / "chief")],
         _env(TF_CONFIG=json.dumps(
             {"cluster": cluster, "task": {"type": "worker", "index": 0}}))),
        ([sys.executable, "-c", SPY, str(tmp_path / "worker.npz"),
          *CLI_TRAIN, "--strategy", "multiworker",
          "--out", str(tmp_path / "worker")],
         _env(TMPDIR=str(scratch), TF_CONFIG=json.dumps(
             {"cluster": cluster, "task": {"type": "worker", "index": 1}}))),
        ([sys.executable, "-m", "kerasseq", *CLI_TRAIN, "--strategy",
          "none", "--out", str(tmp_path / "single")], _env()),
    ]
    _run_all(commands, tmp_path)

    chief = tmp_path / "chief"
    run = json.loads((chief / "run.json").read_text())
    assert run["status"] == "finished"
    assert run["epochs_run"] == 2
    assert (chief / "metrics.json").is_file()
    environment = json.loads((chief / "environment.json").read_text())
    assert environment["strategy"] == "CollectiveAllReduceStrategy"
    assert environment["replicas"] == 2
    # The other worker wrote nothing in its --out and removed its scratch.
    assert not (tmp_path / "worker").exists()
    assert list(scratch.iterdir()) == []

    chief_weights = training.load_run(chief)[0].get_weights()
    with np.load(tmp_path / "worker.npz") as dump:
        worker_weights = [dump[f"arr_{i}"] for i in range(len(dump.files))]
    assert len(chief_weights) == len(worker_weights) > 0
    for chief_w, worker_w in zip(chief_weights, worker_weights, strict=True):
        np.testing.assert_array_equal(chief_w, worker_w)

    history = json.loads((chief / "history.json").read_text())
    single = json.loads((tmp_path / "single" / "history.json").read_text())
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(history[key], single[key],
                                   atol=CLI_LOSS_ATOL)
    assert history["loss"][1] < history["loss"][0]
