"""Evaluation reports: metrics.json, plots, errors.csv, attention view.

This module holds the single-label reports (`compute_metrics`,
`write_report`), the text report `format_text_report` and the helpers
the multi-label reports in `kerasseq.multilabel_reporting` share
(atomic JSON and figure writing, training curves, text tables).
Metrics come from scikit-learn, plots from matplotlib (``Figure`` objects,
no pyplot state, so nothing changes the caller's backend). Every file is
written atomically: to a temporary file in the run directory, then
``os.replace``.
"""

import csv
import html
import math
import numbers
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from kerasseq.errors import ConfigError
from kerasseq.files import write_atomically, write_json

# Confusion-matrix cells get numbers only up to this many classes.
MAX_ANNOTATED_CLASSES = 20
# Text confusion matrices wider than this use class ids as column headers.
MAX_TABLE_WIDTH = 100


def _check_inputs(y_true, y_prob, class_names):
    """Returns (y_true, y_prob) as arrays after checking their shapes."""
    num_classes = len(class_names)
    if num_classes == 0:
        raise ConfigError(
            "Expected at least one class name. Received class_names=[]."
        )
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype="float64")
    if y_true.ndim != 1 or not np.issubdtype(y_true.dtype, np.integer):
        raise ConfigError(
            "Expected y_true to be a 1-D array of integer class ids. "
            f"Received dtype {y_true.dtype} with shape {y_true.shape}."
        )
    expected_shape = (len(y_true), num_classes)
    if y_prob.shape != expected_shape:
        raise ConfigError(
            "Expected y_prob with shape (len(y_true), len(class_names)) = "
            f"{expected_shape}. Received shape {y_prob.shape}. Pass one row "
            "of class probabilities per example, one column per class."
        )
    if len(y_true) == 0:
        raise ConfigError(
            "Expected at least one test example. Received empty y_true."
        )
    out_of_range = (y_true < 0) | (y_true >= num_classes)
    if out_of_range.any():
        raise ConfigError(
            f"Expected y_true ids in 0..{num_classes - 1} (one per class "
            f"name). Received {int(y_true[out_of_range][0])}."
        )
    return y_true, y_prob


def compute_metrics(y_true, y_prob, class_names):
    """Returns accuracy, macro F1, per-class scores and the confusion matrix.

    Args:
        y_true: integer class ids, shape ``[N]``.
        y_prob: class probabilities, shape ``[N, C]``.
        class_names: the ``C`` class names, indexed by id.

    The confusion matrix has true labels as rows and predicted labels as
    columns, with every class present even if never predicted.
    """
    y_true, y_prob = _check_inputs(y_true, y_prob, class_names)
    y_pred = y_prob.argmax(axis=1)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    macro_precision, macro_recall, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(
            f1_score(
                y_true, y_pred, labels=labels, average="macro", zero_division=0
            )
        ),
        "macro_precision": float(macro_precision),
        "macro_recall": float(macro_recall),
        "labels": [str(name) for name in class_names],
        "confusion_matrix": matrix.tolist(),
        "per_class": {
            str(name): {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "n_test": len(y_true),
    }


def _to_json_value(value):
    """Converts NumPy scalars/arrays to built-ins; NaN and inf to None."""
    if isinstance(value, dict):
        return {str(key): _to_json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_to_json_value(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path, data):
    write_json(path, _to_json_value(data), sort_keys=True)


def _save_figure(figure, path):
    write_atomically(
        path,
        lambda file: figure.savefig(file, format="png", dpi=100),
        binary=True,
    )


def _plot_confusion_matrix(path, matrix, class_names):
    """Two panels: counts and row-normalized (recall per true class)."""
    from matplotlib.figure import Figure

    num_classes = len(class_names)
    panel_size = max(5.0, 0.42 * num_classes + 3.0)
    font_size = max(7.0, 11.0 - 0.1 * num_classes)
    cell_font_size = font_size if num_classes <= 10 else font_size - 2
    annotate = num_classes <= MAX_ANNOTATED_CLASSES
    figure = Figure(
        figsize=(2 * panel_size + 2.0, panel_size + 0.5), layout="constrained"
    )
    count_axes, normalized_axes = figure.subplots(1, 2)
    row_totals = matrix.sum(axis=1, keepdims=True)
    normalized = np.divide(
        matrix,
        row_totals,
        out=np.zeros(matrix.shape, dtype="float64"),
        where=row_totals > 0,
    )
    panels = [
        (count_axes, matrix, "d", "Counts"),
        (normalized_axes, normalized, ".2f", "Normalized by true label"),
    ]
    for axes, values, values_format, title in panels:
        ConfusionMatrixDisplay(values, display_labels=class_names).plot(
            ax=axes,
            include_values=annotate,
            values_format=values_format,
            cmap="Blues",
            xticks_rotation=45 if num_classes > 4 else "horizontal",
            text_kw={"fontsize": cell_font_size},
        )
        axes.set_title(title, fontsize=font_size + 2)
        axes.xaxis.label.set_fontsize(font_size + 1)
        axes.yaxis.label.set_fontsize(font_size + 1)
        axes.tick_params(labelsize=font_size)
        if num_classes > 4:
            for label in axes.get_xticklabels():
                label.set_horizontalalignment("right")
                label.set_rotation_mode("anchor")
    _save_figure(figure, path)


def _accuracy_key(history):
    """The training accuracy key (``accuracy``, ``sparse_..._accuracy``)."""
    for key in history:
        if not key.startswith("val_") and key.endswith(("accuracy", "acc")):
            return key
    return None


def _curve_keys(history):
    """The training keys to plot: ``loss`` and the accuracy key."""
    keys = ["loss", _accuracy_key(history)]
    keys = [key for key in keys if key is not None and key in history]
    if not keys:
        raise ConfigError(
            "Expected history with a 'loss' or accuracy key (a Keras "
            f"History.history dict). Received keys {sorted(history)}."
        )
    return keys


def _plot_training_curves(path, history, keys):
    """Loss and accuracy per epoch, train vs validation."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(5.5 * len(keys), 4.5), layout="constrained")
    panels = figure.subplots(1, len(keys), squeeze=False)[0]
    for axes, key in zip(panels, keys, strict=True):
        for name, style in ((key, "o-"), (f"val_{key}", "s--")):
            if name in history:
                values = np.asarray(history[name], dtype="float64")
                epochs = np.arange(1, len(values) + 1)
                label = "validation" if name.startswith("val_") else "train"
                axes.plot(epochs, values, style, label=label)
        axes.set_title(key.replace("_", " "))
        axes.set_xlabel("Epoch")
        axes.set_ylabel(key.replace("_", " "))
        # One tick is enough: a 1-epoch run would get fractional ones.
        axes.xaxis.set_major_locator(
            MaxNLocator(integer=True, min_n_ticks=1))
        axes.grid(alpha=0.3)
        axes.legend()
    _save_figure(figure, path)


def _as_str(value):
    """Text as ``str``; bytes (as tf.data yields them) decoded as UTF-8."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _write_errors(path, texts, y_true, y_prob, class_names, max_errors):
    """The most confident mistakes, most confident first."""
    y_pred = y_prob.argmax(axis=1)
    predicted_prob = y_prob[np.arange(len(y_pred)), y_pred]
    mistakes = np.flatnonzero(y_pred != y_true)
    order = np.argsort(-predicted_prob[mistakes], kind="stable")
    selected = mistakes[order][:max_errors]

    def write(file):
        writer = csv.writer(file)
        writer.writerow(
            ["text", "true_label", "predicted_label", "probability"]
        )
        for i in selected:
            writer.writerow(
                [
                    _as_str(texts[i]),
                    class_names[y_true[i]],
                    class_names[y_pred[i]],
                    f"{predicted_prob[i]:.6f}",
                ]
            )

    write_atomically(path, write)


def _attention_example_html(index, example):
    """One example as a paragraph of tokens shaded by attention weight."""
    tokens = list(example["tokens"])
    weights = np.asarray(example["weights"], dtype="float64")
    if len(tokens) != len(weights):
        raise ConfigError(
            f"Expected attention_examples[{index}] to have one weight per "
            f"token. Received {len(tokens)} tokens and {len(weights)} weights."
        )
    peak = weights.max() if len(weights) and weights.max() > 0 else 1.0
    spans = []
    for token, weight in zip(tokens, weights, strict=True):
        alpha = float(np.clip(weight / peak, 0.0, 1.0))
        spans.append(
            f'<span style="background: rgba(230, 85, 13, {alpha:.3f})" '
            f'title="{weight:.4f}">{html.escape(_as_str(token))}</span>'
        )
    true_label = html.escape(str(example["true_label"]))
    predicted_label = html.escape(str(example["predicted_label"]))
    verdict = "correct" if true_label == predicted_label else "wrong"
    return (
        f'<div class="example {verdict}">\n'
        f'<p class="labels">#{index + 1} true: <b>{true_label}</b>, '
        f"predicted: <b>{predicted_label}</b></p>\n"
        f'<p class="tokens">{" ".join(spans)}</p>\n</div>'
    )


_ATTENTION_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kerasseq attention</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}
.example {{ border-left: 4px solid #3a3; padding: 0 1em; margin: 1em 0; }}
.example.wrong {{ border-color: #c33; }}
.labels {{ color: #555; margin-bottom: 0.3em; }}
.tokens {{ line-height: 1.9; }}
.tokens span {{ padding: 0.1em 0.15em; border-radius: 3px; }}
</style>
</head>
<body>
<h1>Attention weights</h1>
<p>Each token's background is shaded by its attention weight, relative to
the largest weight in its example; hover a token to see the weight.</p>
{examples}
</body>
</html>
"""


def _attention_page(attention_examples):
    """A self-contained HTML page showing every attention example."""
    examples = "\n".join(
        _attention_example_html(index, example)
        for index, example in enumerate(attention_examples)
    )
    return _ATTENTION_PAGE.format(examples=examples)


def write_report(
    run_dir,
    *,
    y_true,
    y_prob,
    class_names,
    texts,
    history=None,
    extra=None,
    attention_examples=None,
    max_errors=50,
):
    """Writes the evaluation report files into ``run_dir``.

    Files: ``metrics.json`` (``compute_metrics`` plus ``extra``),
    ``confusion_matrix.png``, ``errors.csv`` and, when given,
    ``history.json`` + ``training_curves.png`` (``history`` is a Keras
    ``History`` or its ``.history`` dict) and ``attention.html``
    (``attention_examples``: dicts with ``tokens``, ``weights``,
    ``true_label``, ``predicted_label``).

    Arguments are all checked before any file is written.

    Returns:
        The metrics dict written to ``metrics.json``.
    """
    metrics = compute_metrics(y_true, y_prob, class_names)
    y_true, y_prob = _check_inputs(y_true, y_prob, class_names)
    if len(texts) != len(y_true):
        raise ConfigError(
            f"Expected one text per example ({len(y_true)}). "
            f"Received {len(texts)} texts."
        )
    if (
        isinstance(max_errors, bool)
        or not isinstance(max_errors, numbers.Integral)
        or max_errors < 0
    ):
        raise ConfigError(
            "Expected max_errors to be an integer >= 0. "
            f"Received {max_errors!r}."
        )
    clashing = sorted(set(extra or {}) & set(metrics))
    if clashing:
        raise ConfigError(
            f"Expected extra keys that do not overwrite computed metrics. "
            f"Received {clashing}; rename them."
        )
    metrics.update(_to_json_value(dict(extra or {})))
    history = getattr(history, "history", history)
    if history is not None:
        curve_keys = _curve_keys(history)
    if attention_examples is not None:
        attention_page = _attention_page(attention_examples)

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    class_names = metrics["labels"]
    _write_json(run_dir / "metrics.json", metrics)
    _plot_confusion_matrix(
        run_dir / "confusion_matrix.png",
        np.asarray(metrics["confusion_matrix"]),
        class_names,
    )
    _write_errors(
        run_dir / "errors.csv", texts, y_true, y_prob, class_names, max_errors
    )
    if history is not None:
        _write_json(run_dir / "history.json", history)
        _plot_training_curves(
            run_dir / "training_curves.png", history, curve_keys
        )
    if attention_examples is not None:
        write_atomically(
            run_dir / "attention.html",
            lambda file: file.write(attention_page),
        )
    return metrics


def _table(header, rows):
    """Left-aligned first column, right-aligned others, space-separated."""
    widths = [
        max(len(str(row[col])) for row in [header, *rows])
        for col in range(len(header))
    ]
    lines = []
    for row in [header, *rows]:
        cells = [str(row[0]).ljust(widths[0])]
        cells += [
            str(cell).rjust(width)
            for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def format_text_report(metrics):
    """Scikit-learn's classification report and the confusion matrix as
    aligned text.

    ``metrics`` is a ``compute_metrics`` result (or a loaded metrics.json);
    the report is computed from its confusion matrix. Multi-label metrics
    get `format_multilabel_report`.
    """
    if metrics.get("multi_label"):
        # Imported here: kerasseq.multilabel_reporting imports this module.
        from kerasseq.multilabel_reporting import format_multilabel_report

        return format_multilabel_report(metrics)
    names = metrics["labels"]
    n_test = metrics["n_test"]
    counts = np.asarray(metrics["confusion_matrix"])
    # One (true, predicted) id pair per test example, from the counts.
    y_true, y_pred = np.repeat(
        np.indices(counts.shape).reshape(2, -1), counts.ravel(), axis=1
    )
    report = classification_report(
        y_true,
        y_pred,
        labels=np.arange(len(names)),
        target_names=names,
        digits=4,
        zero_division=0,
    )
    if sum(len(name) + 2 for name in names) <= MAX_TABLE_WIDTH:
        columns_note = "columns: predicted label"
        header = names
        row_names = names
    else:
        columns_note = "columns: predicted label by [id]"
        header = [f"[{i}]" for i in range(len(names))]
        row_names = [f"[{i}] {name}" for i, name in enumerate(names)]
    matrix = _table(
        ["true \\ predicted", *header],
        [[name, *row] for name, row in zip(row_names, counts, strict=True)],
    )
    return (
        f"Classification report ({n_test} test examples)\n\n{report}\n"
        f"Confusion matrix (rows: true label, {columns_note})\n\n"
        f"{matrix}\n"
    )
