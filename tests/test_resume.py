"""Interrupted ``python -m kerasseq train`` runs resume where they stopped.

A real process is killed (SIGKILL: no chance to clean up) or interrupted
(SIGINT, Ctrl-C) once its first epoch is logged; the same command run
again (in this process, through `kerasseq.cli.main`) must resume after
the last finished epoch from that epoch's weights and optimizer state, and
end with as many epochs as an uninterrupted run.
"""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from kerasseq.cli import main

EPOCHS = 12
ARGV = [
    "train", "--model", "bag_of_embeddings", "--epochs", str(EPOCHS),
    "--set", "data_options.n=400", "--set", "embedding_dim=8",
    "--set", "hidden_units=8", "--set", "patience=none",
    "--set", "export=false", "--set", "bucketing=false", "--quiet",
]
# Runs the `kerasseq` command like `python -m kerasseq`, and saves each
# finished epoch's weights and optimizer variables to DUMP/epoch<N>.npz
# before BackupAndRestore backs that epoch up.
SPY = r"""
import os
import runpy
import sys

import keras
import numpy as np

dump = sys.argv.pop(1)
save = keras.callbacks.BackupAndRestore._save_model


def spy(self):
    arrays = [v.numpy() for v in (*self.model.weights,
                                  *self.model.optimizer.variables)]
    path = os.path.join(dump, f"epoch{self._current_epoch}.npz")
    np.savez(path + ".tmp.npz", *arrays)
    os.replace(path + ".tmp.npz", path)
    save(self)


keras.callbacks.BackupAndRestore._save_model = spy
runpy.run_module("kerasseq", run_name="__main__", alter_sys=True)
"""


def _state(model):
    return [v.numpy() for v in (*model.weights, *model.optimizer.variables)]


def _env():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    return env


def _backed_up_epochs(out):
    """Epochs in the BackupAndRestore backup (0 while none is complete)."""
    try:
        metadata = (out / "backup" / "training_metadata.json").read_text()
        return json.loads(metadata)["epoch"]
    except (OSError, ValueError, KeyError):
        return 0


def _interrupt_after_first_epoch(out, signum, timeout=180):
    """Starts a run, sends `signum` once an epoch is backed up.

    Returns the exit code and stderr.
    """
    dump = out.parent / "dump"
    dump.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", SPY, str(dump), *ARGV, "--out", str(out)],
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while _backed_up_epochs(out) < 1:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no epoch backed up in time"
            time.sleep(0.02)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stderr


def _log_epochs(out):
    lines = (out / "training_log.csv").read_text().splitlines()[1:]
    return [int(line.split(",")[0]) for line in lines]


def _rerun_and_check(out, finished, monkeypatch, capsys):
    logged_before = len(_log_epochs(out))
    restored = []
    restore = keras.callbacks.BackupAndRestore.on_train_begin

    def record(self, logs=None):
        fresh = [v.numpy() for v in self.model.weights]
        restore(self, logs)
        restored.append((fresh, _state(self.model)))

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_train_begin",
                        record)
    capsys.readouterr()
    assert main([*ARGV, "--out", str(out)]) == 0
    assert (f"resuming the unfinished run in {out} after {finished} "
            "finished epoch(s)") in capsys.readouterr().out
    # Training went on from the weights and optimizer state (Adam's step
    # count and moments) the killed run had after its last finished epoch.
    [(fresh, state)] = restored
    with np.load(out.parent / "dump" / f"epoch{finished}.npz") as saved:
        backed_up = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    assert len(state) == len(backed_up)
    for value, expected in zip(state, backed_up, strict=True):
        np.testing.assert_array_equal(value, expected)
    assert not all(np.array_equal(a, b)
                   for a, b in zip(fresh, state, strict=False))
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished"
    assert run["epochs_run"] == EPOCHS
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == EPOCHS
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == EPOCHS
    # The rerun trained exactly the epochs after the last finished one.
    assert _log_epochs(out)[logged_before:] == list(range(finished, EPOCHS))
    assert not (out / "backup").exists()


def test_sigkill_then_rerun_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, _ = _interrupt_after_first_epoch(out, signal.SIGKILL)
    assert code == -signal.SIGKILL
    finished = _backed_up_epochs(out)
    assert 1 <= finished < EPOCHS
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert not (out / "model.keras").exists()
    _rerun_and_check(out, finished, monkeypatch, capsys)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_then_rerun_resumes(tmp_path, monkeypatch,
                                                 capsys):
    out = tmp_path / "run"
    code, stderr = _interrupt_after_first_epoch(out, signal.SIGINT)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    finished = _backed_up_epochs(out)
    assert 1 <= finished < EPOCHS
    assert (f"interrupted after {finished} finished epoch(s); rerun the "
            f"same command to resume from epoch {finished + 1}") in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "running"
    assert not (out / "metrics.json").exists()
    _rerun_and_check(out, finished, monkeypatch, capsys)
