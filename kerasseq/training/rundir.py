"""The run-directory protocol: its file names, status and records.

A run directory holds::

    .lock               the OS lock (`RunLock`) of the process running it
    run.json            status ("running" / "finished"), start and end
                        time; "fitted" once model.keras holds the final
                        model (a rerun then resumes after fitting)
    config.json         the record: the resolved config (under "config";
                        `TrainConfig.from_dict` reads the whole record),
                        vocab_size, class_names and split sizes
    training_log.csv    one row per finished epoch (kept across resumes)
    tensorboard/        TensorBoard logs with ``tensorboard=True``: train/
                        and validation/ of the fit, refit/train/ of a refit
    backup/             BackupAndRestore state while the run is unfinished
    metrics.json ...    the `kerasseq.reporting.write_report` files
    model.keras         the trained ids -> probabilities model
    tokenizer.json      the fitted `kerasseq.text.Tokenizer`
    environment.json    versions, device, strategy, mixed precision, cuDNN
    saved_model/        `kerasseq.exporter.export` (raw strings in)
"""

import csv
import datetime
import fcntl
import json
import shutil
from pathlib import Path

from kerasseq.errors import ArtifactError, ConfigError
from kerasseq.files import read_json, write_json

LOCK_FILE = ".lock"
RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
LOG_FILE = "training_log.csv"
TENSORBOARD_DIR = "tensorboard"
BACKUP_DIR = "backup"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.json"
# Fields whose value may differ when an unfinished run is resumed.
RESUME_FREE = ("overwrite", "export", "tensorboard")


def run_status(run_dir):
    """``"absent"``, ``"empty"``, ``"running"`` or ``"finished"``.

    Raises:
        ConfigError: `run_dir` is a file, or a non-empty folder that is
            not a kerasseq run directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "absent"
    if not run_dir.is_dir():
        raise ConfigError(
            f"out={str(run_dir)!r} is a file; choose a directory path"
        )
    if not (run_dir / RUN_FILE).is_file():
        if any(p.name != LOCK_FILE for p in run_dir.iterdir()):
            raise ConfigError(
                f"out={str(run_dir)!r} is a non-empty folder that is not "
                "a kerasseq run; choose another out=DIR"
            )
        return "empty"
    status = read_json(run_dir / RUN_FILE, "run file").get("status")
    return "finished" if status == "finished" else "running"


def refuse_finished(run_dir, status, overwrite):
    """Raises a `ConfigError` if `run_dir` holds a finished run that
    `overwrite` does not allow replacing."""
    if status == "finished" and not overwrite:
        raise ConfigError(
            f"{run_dir} already holds a finished run; use overwrite=True "
            "or another out=DIR"
        )


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


class RunLock:
    """An exclusive OS lock (``fcntl.flock``) on a run directory's
    `LOCK_FILE`, so two processes never run in one directory at once.

    `acquire` takes it once the folder exists (it does nothing before);
    leaving the ``with`` block, or the process ending, releases it.
    """

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self._file = None

    def acquire(self):
        """Takes the lock if the folder exists and it is not held yet.

        Raises:
            ConfigError: another process holds it.
        """
        if self._file is not None or not self.run_dir.is_dir():
            return
        file = open(self.run_dir / LOCK_FILE, "a")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise ConfigError(
                f"out={self.run_dir} is in use: another kerasseq process "
                "is running there now; wait for it to end or choose "
                "another out=DIR"
            ) from None
        self._file = file

    def release(self):
        """Releases the lock; a folder that holds no run loses the lock
        file too."""
        if self._file is None:
            return
        if not (self.run_dir / RUN_FILE).is_file():
            (self.run_dir / LOCK_FILE).unlink(missing_ok=True)
        self._file.close()
        self._file = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc_info):
        self.release()


def _clear(run_dir):
    """Deletes everything in `run_dir` except its lock file."""
    for path in run_dir.iterdir():
        if path.name == LOCK_FILE:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def start_run(run_dir, status, config_record, overwrite, lock=None):
    """Creates (or reuses, to resume) the run dir, takes `lock` (a
    `RunLock`), marks it running and writes `config_record` to its
    config file; returns True on resume.

    Raises:
        ConfigError: an unfinished run there has a different config, or
            another process holds the lock.
    """
    run_dir = Path(run_dir)
    if lock is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    if status in ("running", "finished") and overwrite:
        _clear(run_dir)
        status = "empty"
    if status == "running" and (run_dir / CONFIG_FILE).is_file():
        saved = read_record(run_dir)["config"]
        # As JSON stores it: tuples become lists, dict keys strings.
        current = json.loads(json.dumps(config_record["config"]))
        changed = sorted(
            key for key in current
            if key not in RESUME_FREE and saved.get(key) != current[key]
        )
        if changed:
            raise ConfigError(
                f"{run_dir} holds an unfinished run with a different "
                f"config ({', '.join(changed)}); use overwrite=True or "
                "another out=DIR"
            )
        _remove_temporaries(run_dir)
        return True
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / RUN_FILE, {"status": "running", "started": _now()})
    write_record(run_dir, config_record)
    return False


def _remove_temporaries(run_dir):
    """Deletes what a killed atomic write left in `run_dir` (hidden
    ``.NAME.tmp-*`` / ``.NAME.old-*`` folders, ``.NAME.*.tmp`` files)."""
    for path in run_dir.glob(".*"):
        if ".tmp-" in path.name or ".old-" in path.name:
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)


def mark_fitted(run_dir, model, tokenizer, **details):
    """Saves the fitted `model` and `tokenizer`, then records in the run
    file that fitting ended (with `details`, e.g. its duration)."""
    run_dir = Path(run_dir)
    save_model(run_dir, model, tokenizer)
    run = read_json(run_dir / RUN_FILE, "run file")
    write_json(run_dir / RUN_FILE, {**run, "fitted": details})


def fitted_details(run_dir):
    """The details `mark_fitted` recorded, or ``None`` before then."""
    return read_json(Path(run_dir) / RUN_FILE, "run file").get("fitted")


def finish_run(run_dir, **details):
    """Marks the run in `run_dir` finished (its run file keeps the start
    time and gains the finish time and `details`)."""
    run_dir = Path(run_dir)
    started = read_json(run_dir / RUN_FILE, "run file").get("started")
    write_json(run_dir / RUN_FILE, {
        "status": "finished", "started": started, "finished": _now(),
        **details,
    })


def read_record(run_dir):
    """The run's config record (``config.json``).

    Raises:
        ArtifactError: it is not an object with a ``config`` object.
    """
    path = Path(run_dir) / CONFIG_FILE
    record = read_json(path, "run config")
    if not isinstance(record, dict) or not isinstance(
            record.get("config"), dict):
        raise ArtifactError(
            f"{path} has no 'config' object: it is not the record of a "
            "kerasseq run (or was edited). Restore it, or train the run "
            "again"
        )
    return record


def write_record(run_dir, record):
    """Writes the run's config record (``config.json``)."""
    write_json(Path(run_dir) / CONFIG_FILE, record)


def read_metrics(run_dir):
    """The test metrics of a finished run (``metrics.json``)."""
    return read_json(Path(run_dir) / METRICS_FILE, "run metrics")


def save_model(run_dir, model, tokenizer):
    """Saves the trained model and its tokenizer into `run_dir`."""
    run_dir = Path(run_dir)
    model.save(run_dir / MODEL_FILE)
    (run_dir / TOKENIZER_FILE).write_text(tokenizer.to_json(),
                                          encoding="utf-8")


def read_log(run_dir):
    """Per-epoch history from the CSV log: {metric: [values...]}."""
    path = Path(run_dir) / LOG_FILE
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch":
                history.setdefault(key, []).append(float(value))
    return history


def finished_epochs(run_dir):
    """Epochs the backup of an unfinished run holds (0 without one)."""
    path = Path(run_dir) / BACKUP_DIR / "training_metadata.json"
    if not path.is_file():
        return 0
    return int(read_json(path, "backup metadata").get("epoch", 0))
