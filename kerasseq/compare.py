"""Several models trained on the same data, side by side in one folder.

    kerasseq.compare.compare(["simple_rnn", "lstm", "transformer"],
                             "builtin:synthetic_sentiment", epochs=5)

Every model is trained by `kerasseq.training.train` with the same config
apart from ``model`` and ``out``: the same data, split, seed and
tokenizer settings. The folder ``out`` then holds::

    <model>/                 each model's run directory
    comparison.csv           model, accuracy, macro_f1, parameters,
    comparison.md              train_seconds, samples_per_second, epochs
    accuracy_vs_time.png     test accuracy against training seconds
    validation_curves.png    validation accuracy and loss per epoch
"""

import csv
import dataclasses
import io
from pathlib import Path

from kerasseq.errors import ConfigError
from kerasseq.files import read_json, write_atomically

TABLE_FILE = "comparison.csv"
MARKDOWN_FILE = "comparison.md"
TIME_PLOT_FILE = "accuracy_vs_time.png"
CURVES_PLOT_FILE = "validation_curves.png"
COLUMNS = ("model", "accuracy", "macro_f1", "parameters", "train_seconds",
           "samples_per_second", "epochs")


@dataclasses.dataclass
class Comparison:
    """What `compare` returns: the folder, one table row per model (in
    the order given) and each model's `kerasseq.training.RunResult`."""

    out: Path
    rows: list
    runs: dict


def compare(models, data, epochs=None, out="runs/compare", *, verbose=0,
            **config_overrides):
    """Trains each of `models` on `data` and writes the comparison.

    Args:
        models: model names (a list, or one comma-separated string).
        data: the dataset source every model trains on.
        epochs: epochs for every model (``None``: the config default).
        out: the comparison folder; model ``M`` runs in ``out/M``.
        verbose: Keras ``fit`` verbosity.
        **config_overrides: any other `TrainConfig` field, the same for
            every model (``seed``, ``maxlen``, ``data_options``,
            ``overwrite``, ...). ``hparams`` is one flat dict: each model
            takes the keys it has (``units`` goes to the RNNs, not to
            ``bag_of_embeddings``); a key no model has is an error.

    Returns:
        A `Comparison`.

    Raises:
        ConfigError: unknown or repeated model, a bad override, or a
            finished run in ``out/M`` without ``overwrite=True``; all
            checked before any model trains.
    """
    from kerasseq.training import train

    out = Path(out)
    configs = _configs(_model_names(models), data, epochs, out,
                       config_overrides)
    runs = {name: train(config, verbose=verbose)
            for name, config in configs.items()}
    rows = [_row(name, result) for name, result in runs.items()]
    histories = {name: read_json(result.run_dir / "history.json",
                                 "training history")
                 for name, result in runs.items()}
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / TABLE_FILE, lambda file: file.write(_csv(rows)))
    write_atomically(out / MARKDOWN_FILE,
                     lambda file: file.write(markdown_table(rows)))
    _plot_accuracy_vs_time(rows, out / TIME_PLOT_FILE)
    _plot_validation_curves(histories, out / CURVES_PLOT_FILE)
    return Comparison(out, rows, runs)


def _model_names(models):
    from kerasseq.models import names

    if isinstance(models, str):
        models = [name.strip() for name in models.split(",")]
    if not isinstance(models, (list, tuple)) or not all(
            isinstance(name, str) and name for name in models):
        raise ConfigError(
            "Expected models to be a list of model names, e.g. "
            f"['simple_rnn', 'lstm']. Received {models!r}."
        )
    known = names()
    unknown = [name for name in models if name not in known]
    if unknown:
        raise ConfigError(
            f"unknown model {unknown[0]!r} in models; choose from: "
            f"{', '.join(known)}"
        )
    repeated = sorted({name for name in models if models.count(name) > 1})
    if repeated or not models:
        raise ConfigError(
            "Expected one or more different model names. Received "
            f"{list(models)!r}."
        )
    return list(models)


def _configs(names, data, epochs, out, overrides):
    """One validated `TrainConfig` per model, before anything trains."""
    from kerasseq import models
    from kerasseq.training import TrainConfig, run_status

    for key in ("model", "out"):
        if key in overrides:
            raise ConfigError(
                f"compare sets {key!r} for every model itself; pass the "
                "models as its first argument and the folder as out=..."
            )
    hparams = dict(overrides.pop("hparams", None) or {})
    declared = {name: models.default_hparams(name) for name in names}
    unused = sorted(set(hparams).difference(*declared.values()))
    if unused:
        raise ConfigError(
            f"hyper-parameter {unused[0]!r} belongs to none of "
            f"{', '.join(names)}; valid: "
            f"{', '.join(sorted(set().union(*declared.values())))}"
        )
    configs = {}
    for name in names:
        values = {**overrides, "model": name, "data": data,
                  "out": str(out / name),
                  "hparams": {k: v for k, v in hparams.items()
                              if k in declared[name]}}
        if epochs is not None:
            values["epochs"] = epochs
        config = TrainConfig.from_dict(values)
        if config.multi_label:
            raise ConfigError(
                "compare does not support multi_label yet (it ranks by "
                "accuracy); train the multi-label models one by one")
        models.resolve_hparams(name, **config.hparams)
        if run_status(config.out) == "finished" and not config.overwrite:
            raise ConfigError(
                f"{config.out} already holds a finished run; pass "
                "overwrite=True or another out"
            )
        configs[name] = config
    return configs


def _row(name, result):
    record = read_json(result.run_dir / "config.json", "run config")
    metrics = result.metrics
    seconds = metrics["train_seconds"]
    epochs = metrics["epochs_run"]
    return {
        "model": name,
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "parameters": int(result.model.count_params()),
        "train_seconds": seconds,
        "samples_per_second": (record["n_train"] * epochs / seconds
                               if seconds > 0 else None),
        "epochs": epochs,
    }


def _csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(rows):
    """The comparison rows as a Markdown table."""
    formats = {"accuracy": "{:.4f}", "macro_f1": "{:.4f}",
               "parameters": "{:,}", "train_seconds": "{:.1f}",
               "samples_per_second": "{:.0f}", "epochs": "{}"}
    lines = ["| " + " | ".join(COLUMNS) + " |",
             "|---|" + "---:|" * (len(COLUMNS) - 1)]
    for row in rows:
        cells = [row["model"]] + [
            "n/a" if row[key] is None else formats[key].format(row[key])
            for key in COLUMNS[1:]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _save(figure, path):
    write_atomically(
        path, lambda file: figure.savefig(file, format="png", dpi=100),
        binary=True)


def _plot_accuracy_vs_time(rows, path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="constrained")
    axes = figure.subplots()
    for row in rows:
        axes.scatter(row["train_seconds"], row["accuracy"])
        axes.annotate(row["model"], (row["train_seconds"], row["accuracy"]),
                      textcoords="offset points", xytext=(5, 5))
    axes.margins(0.15)
    axes.set_xlabel("training time (s)")
    axes.set_ylabel("test accuracy")
    axes.set_title("Accuracy against training time")
    axes.grid(alpha=0.3)
    _save(figure, path)


def _plot_validation_curves(histories, path):
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4), layout="constrained")
    panels = figure.subplots(1, 2)
    for axes, key, title in zip(
            panels, ("val_accuracy", "val_loss"),
            ("Validation accuracy", "Validation loss"), strict=True):
        for name, history in histories.items():
            values = history.get(key, [])
            axes.plot(range(1, len(values) + 1), values, marker="o",
                      label=name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
    _save(figure, path)
