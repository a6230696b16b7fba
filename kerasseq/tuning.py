"""Hyper-parameter search with KerasTuner over kerasseq training runs.

`tune` runs a KerasTuner search (random, Bayesian optimisation or
Hyperband) in which every trial is one `kerasseq.training.train` run in
``OUT/trials/<trial_id>``. A trial's score is its best ``val_accuracy``
(the validation split held out of the training data); test metrics are
recorded, never used to choose. The search folder ``OUT`` holds::

    search.json         model, search kind, base config and search space
    tuner/              KerasTuner's own state (resumes an interrupted search)
    trials/<trial_id>/  one kerasseq run directory per trial
    leaderboard.csv     every trial, best first: hyper-parameters, scores,
    leaderboard.md      seconds, run directory (also as a Markdown table)
    trials.png          validation score by trial and best so far
    best_config.json    the best trial's config: ``TrainConfig.from_dict``
                        accepts it (it trains into ``OUT/best``)

This module holds the tuner, the leaderboard and the other outputs and
`tune`. The search space is `kerasseq.search_space` (its `search_space`,
`trial_config` and `Dimension` are importable from here too): every
declared hyper-parameter of the model over its `HParam.search_bounds`
(log scale where declared) or its choices, plus ``learning_rate`` (1e-4
to 1e-2, log) and ``batch_size`` (16, 32 or 64). Fields and
hyper-parameters that the base config names are fixed at its value;
``space`` entries (``name=low:high[:log]`` or ``name=a,b,c``) add or
replace dimensions.
"""

import csv
import dataclasses
import io
import json
import math
import shutil
import time
from pathlib import Path

import keras_tuner

from kerasseq import models
from kerasseq.errors import ConfigError, KerasSeqError
from kerasseq.files import read_json, write_atomically, write_json
from kerasseq.search_space import (
    _HYPERBAND_EPOCHS,
    Dimension,  # noqa: F401  (re-exported: kerasseq.tuning.Dimension)
    _hparam_value,
    _text,
    search_space,
    trial_config,
)
from kerasseq.training import TrainConfig, run_status, train

SEARCHES = ("random", "bayesian", "hyperband")
OBJECTIVE = "val_accuracy"
SEARCH_FILE = "search.json"
TUNER_DIR = "tuner"
TRIALS_DIR = "trials"
BEST_DIR = "best"
_OUTPUTS = (
    SEARCH_FILE, TUNER_DIR, TRIALS_DIR, "leaderboard.csv", "leaderboard.md",
    "trials.png", "best_config.json",
)


@dataclasses.dataclass
class TuneResult:
    """What `tune` returns.

    Attributes:
        out: the search folder.
        leaderboard: one dict per trial, best first (the CSV's rows).
        best_trial_id: the trial with the best validation score (None
            when no trial finished).
        best_score: its validation score.
        best_config: its config dict (as in ``best_config.json``).
    """

    out: Path
    leaderboard: list
    best_trial_id: str | None
    best_score: float | None
    best_config: dict | None


# ----------------------------------------------------------------- trials


def best_validation_score(run_dir):
    """The best ``val_accuracy`` of any epoch in the run's history."""
    history = read_json(Path(run_dir) / "history.json", "run history")
    scores = history.get(OBJECTIVE)
    if not scores:
        raise ConfigError(
            f"{run_dir}/history.json has no {OBJECTIVE}; the run needs a "
            "validation split")
    return max(float(score) for score in scores)


class _TimeBudgetSpent(Exception):
    """Raised before a new trial once the time budget has passed."""


class _Tuner(keras_tuner.Tuner):
    """Runs each trial as a `kerasseq.training.train` run."""

    def __init__(self, oracle, *, base, dimensions, out, time_budget,
                 overwrite):
        self.base = base
        self.dimensions = dimensions
        self.out = Path(out)
        self.time_budget = time_budget
        self.started = None
        self.fatal_error = None
        super().__init__(oracle=oracle, directory=str(out),
                         project_name=TUNER_DIR, overwrite=overwrite)

    def on_search_begin(self):
        self.started = time.monotonic()

    def pre_create_trial(self):
        if (self.time_budget is not None
                and time.monotonic() - self.started >= self.time_budget):
            raise _TimeBudgetSpent

    def run_trial(self, trial, *args, **kwargs):
        run_dir = self.out / TRIALS_DIR / trial.trial_id
        config = trial_config(self.base, self.dimensions,
                              trial.hyperparameters.values, run_dir)
        if run_status(run_dir) == "finished":
            # Trained before the search was interrupted: only record it.
            metrics = read_json(run_dir / "metrics.json", "run metrics")
            seconds = metrics.get("train_seconds", 0.0)
        else:
            start = time.perf_counter()
            try:
                metrics = train(config, verbose=0).metrics
            except ConfigError as error:
                # Sampled values that do not fit together (a model's cross
                # check): this trial fails, the search goes on.
                raise keras_tuner.errors.FailedTrialError(
                    str(error)) from error
            except KerasSeqError as error:
                self.fatal_error = error
                raise keras_tuner.errors.FatalError(str(error)) from error
            seconds = time.perf_counter() - start
        return {
            OBJECTIVE: best_validation_score(run_dir),
            "test_accuracy": float(metrics["accuracy"]),
            "seconds": float(seconds),
        }


def _oracle(search, max_trials, epochs, hyperparameters, seed):
    objective = keras_tuner.Objective(OBJECTIVE, direction="max")
    options = {
        "objective": objective,
        "hyperparameters": hyperparameters,
        "allow_new_entries": False,
        "tune_new_entries": False,
        # KerasTuner takes a seed of 0 as "none": draw a random one.
        "seed": seed + 1,
    }
    if search == "random":
        return keras_tuner.oracles.RandomSearchOracle(
            max_trials=max_trials, **options)
    if search == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=max_trials, **options)
    oracle = keras_tuner.oracles.HyperbandOracle(max_epochs=epochs,
                                                 **options)
    oracle.max_trials = max_trials  # Hyperband's own loop has no limit
    return oracle


# ---------------------------------------------------------------- outputs


def _format(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return _text(value)


def _leaderboard(tuner):
    """One row per trial: completed ones by validation score (best first,
    earliest first on ties), then the others in start order."""
    columns = [dim.name for dim in tuner.dimensions]
    hyperband = isinstance(tuner.oracle,
                           keras_tuner.oracles.HyperbandOracle)
    rows = []
    for order, trial_id in enumerate(tuner.oracle.start_order):
        trial = tuner.oracle.trials[trial_id]
        hp = trial.hyperparameters.values
        done = trial.status == "COMPLETED"
        row = {"rank": None, "trial_id": trial_id, "status": trial.status}
        row.update((name, hp.get(name)) for name in columns)
        if hyperband:
            row["epochs"] = hp.get(_HYPERBAND_EPOCHS)
        for metric in (OBJECTIVE, "test_accuracy", "seconds"):
            row[metric] = (trial.metrics.get_last_value(metric)
                           if done and trial.metrics.exists(metric)
                           else None)
        row["run_dir"] = str(tuner.out / TRIALS_DIR / trial_id)
        rows.append((not done, -(row[OBJECTIVE] or 0.0), order, row))
    rows = [row for *_, row in sorted(rows, key=lambda item: item[:3])]
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank if row["status"] == "COMPLETED" else None
    return rows


def _write_leaderboard(out, rows, header):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row[key] is None else _format(row[key])
                         for key in header])
    write_atomically(out / "leaderboard.csv",
                     lambda file: file.write(buffer.getvalue()))

    def cell(value):
        return "" if value is None else _format(value).replace("|", r"\|")

    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |"
              for row in rows]
    write_atomically(out / "leaderboard.md",
                     lambda file: file.write("\n".join(lines) + "\n"))


def _plot_trials(path, rows):
    """Validation score of each finished trial and the best so far."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    finished = sorted(
        (int(row["trial_id"]), row[OBJECTIVE])
        for row in rows if row[OBJECTIVE] is not None
    )
    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    if finished:
        numbers = [number + 1 for number, _ in finished]
        scores = [score for _, score in finished]
        best = [max(scores[: i + 1]) for i in range(len(scores))]
        axes.plot(numbers, scores, "o", label="trial")
        axes.step(numbers, best, where="post", label="best so far")
        axes.legend()
    axes.set_xlabel("Trial")
    axes.set_ylabel("best validation accuracy")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    write_atomically(
        path, lambda file: figure.savefig(file, format="png", dpi=100),
        binary=True,
    )


def _best_config(base, dimensions, best, out):
    """The best trial's full config, training into ``OUT/best``."""
    config = trial_config(base, dimensions, best, out / BEST_DIR)
    config["export"] = base.get("export", True)
    config["hparams"] = models.resolve_hparams(config["model"],
                                               **config["hparams"])
    return TrainConfig.from_dict(config).to_dict()


# ------------------------------------------------------------------- tune


def _check_settings(max_trials, search, time_budget):
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or (
            max_trials < 1):
        raise ConfigError(
            f"max_trials must be an integer >= 1; got {max_trials!r}")
    if search not in SEARCHES:
        raise ConfigError(
            f"unknown search {search!r}; choose one of: {', '.join(SEARCHES)}"
        )
    if time_budget is not None and (
            isinstance(time_budget, bool)
            or not isinstance(time_budget, (int, float))
            or not math.isfinite(time_budget) or time_budget <= 0):
        raise ConfigError(
            f"time budget must be a number of seconds > 0; got "
            f"{time_budget!r}")


def _base_config(config):
    """`config` without out/overwrite, checked as a `TrainConfig`."""
    if not isinstance(config, dict):
        raise ConfigError(
            f"Expected a dict of config values. Received "
            f"{type(config).__name__}.")
    base = {k: v for k, v in config.items() if k not in ("out", "overwrite")}
    checked = TrainConfig.from_dict(base).to_dict()
    if checked["multi_label"]:
        raise ConfigError(
            "kerasseq tune does not support multi_label yet (its objective "
            "is val_accuracy); tune a single-label run, or train "
            "multi-label configs one by one")
    specs = models.hparam_specs(checked["model"])
    hparams = {}
    for name, value in checked["hparams"].items():
        if name not in specs:
            raise ConfigError(
                f"unknown hyper-parameter {name!r} for model "
                f"{checked['model']!r}; valid: {', '.join(sorted(specs))}")
        hparams[name] = _hparam_value(checked["model"], name, specs[name],
                                      value)
    return {**{k: checked[k] for k in base}, "hparams": hparams}


def _prepare_out(out, record, overwrite):
    """Creates `out`, or checks that it holds this same search."""
    search_file = out / SEARCH_FILE
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; choose a folder")
    if overwrite:
        for name in _OUTPUTS:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    elif search_file.is_file():
        saved = read_json(search_file, "search settings")
        current = json.loads(json.dumps(record))
        changed = sorted(key for key in current
                         if saved.get(key) != current[key])
        if changed:
            raise ConfigError(
                f"{out} holds a search with different {', '.join(changed)}; "
                "use --overwrite to start over or another --out")
    elif out.is_dir() and any(
            (out / name).exists() for name in (TUNER_DIR, TRIALS_DIR)):
        raise ConfigError(
            f"{out} holds search files without {SEARCH_FILE}; use "
            "--overwrite to start over or another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json(search_file, record)


def tune(config, *, out, max_trials=10, search="random", space=(),
         time_budget=None, overwrite=False, verbose=1):
    """Searches hyper-parameters of ``config["model"]`` with KerasTuner.

    Args:
        config: the base config dict (as for `TrainConfig.from_dict`, e.g.
            from ``--model/--data/--set``); the fields and hyper-parameters
            it names are fixed; its ``out`` and ``overwrite`` are ignored
            (each trial trains into ``OUT/trials/<trial_id>``, without a
            SavedModel unless it sets ``export``).
        out: the search folder.
        max_trials: trials in the whole search (resumed ones included).
        search: ``"random"``, ``"bayesian"`` or ``"hyperband"``
            (Hyperband trains trials for 1 to ``config["epochs"]`` epochs).
        space: ``"name=low:high[:log]"`` / ``"name=a,b,c"`` entries (see
            `search_space`).
        time_budget: seconds after which no new trial starts (this call
            only); ``None``: no limit.
        overwrite: delete the search in `out` and start over; otherwise
            an interrupted search in `out` resumes: finished trials are
            kept, an interrupted trial resumes from its last epoch.
        verbose: 1 prints KerasTuner's progress per trial, 0 is silent.

    Returns:
        A `TuneResult`; it and the files in `out` are written even when
        the search stops early (time budget, failed trials).

    Raises:
        ConfigError: bad settings, base config or space (before any
            training), or `out` holding a different search.
        DataError: the data cannot be loaded (from the first trial).
        TrainingInterrupted: Ctrl-C; call `tune` again to resume.
        RuntimeError: KerasTuner's stop after 3 failed trials in a row
            (its message holds the last trial's error).
    """
    _check_settings(max_trials, search, time_budget)
    base = _base_config(config)
    dimensions = search_space(base, space)
    if not dimensions:
        raise ConfigError(
            "nothing to search: every hyper-parameter is fixed; add "
            "--space entries")
    names = {dim.name for dim in dimensions}
    if search == "hyperband" and "epochs" in names:
        raise ConfigError(
            "hyperband chooses the epochs of each trial; drop --space "
            "epochs=... and set the most epochs with --set epochs=N")
    full = TrainConfig.from_dict(base)
    out = Path(out)
    record = {
        "model": full.model,
        "search": search,
        "config": base,
        "space": [dim.describe() for dim in dimensions],
    }
    _prepare_out(out, record, overwrite)

    hyperparameters = keras_tuner.HyperParameters()
    for dim in dimensions:
        dim.declare(hyperparameters)
    oracle = _oracle(search, max_trials, full.epochs, hyperparameters,
                     full.seed)
    tuner = _Tuner(oracle, base=base, dimensions=dimensions, out=out,
                   time_budget=time_budget, overwrite=overwrite)
    try:
        tuner.search(verbose=verbose)
    except _TimeBudgetSpent:
        if verbose:
            print(f"time budget of {time_budget} s spent; no new trials")
    except keras_tuner.errors.FatalError:
        if tuner.fatal_error is None:
            raise
        raise tuner.fatal_error from None
    return _write_outputs(tuner, base)


def _write_outputs(tuner, base):
    out = tuner.out
    rows = _leaderboard(tuner)
    header = list(rows[0]) if rows else [
        "rank", "trial_id", "status",
        *(dim.name for dim in tuner.dimensions),
        OBJECTIVE, "test_accuracy", "seconds", "run_dir",
    ]
    _write_leaderboard(out, rows, header)
    _plot_trials(out / "trials.png", rows)
    best = rows[0] if rows and rows[0]["status"] == "COMPLETED" else None
    if best is None:
        return TuneResult(out, rows, None, None, None)
    trial = tuner.oracle.trials[best["trial_id"]]
    config = _best_config(base, tuner.dimensions,
                          trial.hyperparameters.values, out)
    write_json(out / "best_config.json", config)
    return TuneResult(out, rows, best["trial_id"], best[OBJECTIVE], config)
