"""``kerasseq train --deterministic`` twice on CPU gives identical results.

Op determinism is process-wide in TensorFlow, so each run is its own
``python -m kerasseq`` process (the two run side by side, with different
``PYTHONHASHSEED`` so set/dict ordering cannot hide in the comparison).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasseq  # noqa: F401  (registers the custom layers for loading)

# Two training processes side by side: about a minute on 2 busy cores.
pytestmark = pytest.mark.slow

TIMING_KEYS = {"train_seconds"}
# Files that must be byte-identical ("run.json" holds wall-clock times,
# "model.keras" a save date; its weights are compared instead).
SAME_BYTES = ("config.json", "training_log.csv", "history.json",
              "errors.csv", "tokenizer.json", "environment.json",
              "attention.html")


def _start(cwd, hash_seed):
    cwd.mkdir()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONHASHSEED": str(hash_seed), "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    command = [
        sys.executable, "-m", "kerasseq", "train", "--deterministic",
        "--model", "bilstm_luong_dot", "--epochs", "2", "--seed", "7",
        "--set", "data_options.n=300", "--set", "embedding_dim=8",
        "--set", "units=8", "--set", "export=false", "--quiet",
        "--out", "run",
    ]
    return subprocess.Popen(command, cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    processes = [_start(root / name, seed)
                 for name, seed in (("a", 1), ("b", 2))]
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
                other.communicate()
            pytest.fail("deterministic runs did not finish in 300 s")
        assert process.returncode == 0, stderr
    return root / "a" / "run", root / "b" / "run"


def _without_timing(path):
    metrics = json.loads(path.read_text())
    return {k: v for k, v in metrics.items() if k not in TIMING_KEYS}


def test_metrics_identical_apart_from_timing(two_runs):
    first, second = two_runs
    assert _without_timing(first / "metrics.json") == _without_timing(
        second / "metrics.json")
    assert set(json.loads((first / "metrics.json").read_text())) >= (
        TIMING_KEYS)


@pytest.mark.parametrize("name", SAME_BYTES)
def test_run_files_byte_identical(two_runs, name):
    first, second = two_runs
    assert (first / name).read_bytes() == (second / name).read_bytes()


def test_weights_identical(two_runs):
    first, second = (keras.saving.load_model(run / "model.keras")
                     for run in two_runs)
    for a, b in zip(first.weights, second.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_environment_records_versions_device_and_kernels(two_runs):
    environment = json.loads(
        (two_runs[0] / "environment.json").read_text())
    for key in ("kerasseq", "keras", "tensorflow", "numpy", "python",
                "backend", "device", "strategy", "replicas"):
        assert environment[key], key
    assert environment["keras"] == keras.__version__
    assert environment["deterministic"] is True
    assert environment["device"].startswith("CPU")
    # bilstm_luong_dot has recurrent layers: each records cuDNN eligibility.
    kernels = environment["cudnn_eligible"]
    assert kernels and all(isinstance(v, bool) for v in kernels.values())
