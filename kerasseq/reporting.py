"""Evaluation reports: metrics.json, plots, errors.csv, attention view.

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
    hamming_loss,
    precision_recall_fscore_support,
)

from kerasseq.errors import ConfigError
from kerasseq.files import write_atomically, write_json

# Confusion-matrix cells get numbers only up to this many classes.
MAX_ANNOTATED_CLASSES = 20
# Text confusion matrices wider than this use class ids as column headers.
MAX_TABLE_WIDTH = 100
# Multi-label decision thresholds tried on the validation split.
THRESHOLD_CANDIDATES = np.round(np.arange(0.05, 0.951, 0.01), 2)


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


def _f1_counts(y_true, y_pred, axis):
    """F1 from true/false positive and false negative counts over `axis`
    (0 for zero)."""
    tp = np.sum(y_true & y_pred, axis=axis)
    wrong = np.sum(y_true ^ y_pred, axis=axis)
    return np.divide(2 * tp, 2 * tp + wrong,
                     out=np.zeros(np.shape(tp)), where=2 * tp + wrong > 0)


def choose_thresholds(y_true, y_prob, mode="global",
                      candidates=THRESHOLD_CANDIDATES):
    """Multi-label decision thresholds chosen on validation predictions.

    ``"global"``: the one candidate maximizing micro-F1; ``"per_label"``:
    for each label the candidate maximizing its F1, or the global one
    where no candidate gives it an F1 above 0. Ties go to the lowest
    candidate. Returns one threshold per label (``[C]`` float array).
    """
    y_true = np.asarray(y_true) > 0.5
    y_prob = np.asarray(y_prob, dtype="float64")
    # [K, N, C] predictions, one slice per candidate.
    predicted = y_prob[None] >= np.asarray(candidates)[:, None, None]
    micro = _f1_counts(y_true[None], predicted, axis=(1, 2))
    best = float(candidates[int(np.argmax(micro))])
    thresholds = np.full(y_true.shape[1], best)
    if mode == "per_label":
        per_label = _f1_counts(y_true[None], predicted, axis=1)  # [K, C]
        found = per_label.max(axis=0) > 0
        chosen = np.asarray(candidates)[np.argmax(per_label, axis=0)]
        thresholds[found] = chosen[found]
    elif mode != "global":
        raise ConfigError(
            "Expected threshold mode 'global' or 'per_label'. Received "
            f"{mode!r}."
        )
    return thresholds


def compute_multilabel_metrics(y_true, y_prob, class_names, thresholds):
    """Micro/macro/samples P/R/F1, subset accuracy, Hamming loss and
    per-label scores of multi-label predictions ``y_prob >= thresholds``.

    Args:
        y_true: multi-hot ``[N, C]``.
        y_prob: per-label probabilities ``[N, C]``.
        class_names: the ``C`` label names.
        thresholds: one decision threshold, or one per label.
    """
    y_true = np.asarray(y_true) > 0.5
    y_prob = np.asarray(y_prob, dtype="float64")
    thresholds = np.broadcast_to(
        np.asarray(thresholds, dtype="float64"), (len(class_names),))
    if y_true.shape != y_prob.shape or y_true.shape[1:] != thresholds.shape:
        raise ConfigError(
            "Expected y_true and y_prob of shape [N, len(class_names)] = "
            f"[N, {len(class_names)}]. Received {y_true.shape} and "
            f"{y_prob.shape}."
        )
    y_pred = y_prob >= thresholds
    metrics = {"multi_label": True}
    for average in ("micro", "macro", "samples"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        metrics[f"{average}_precision"] = float(precision)
        metrics[f"{average}_recall"] = float(recall)
        metrics[f"{average}_f1"] = float(f1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0
    )
    metrics.update({
        "subset_accuracy": float(accuracy_score(y_true, y_pred)),
        "hamming_loss": float(hamming_loss(y_true, y_pred)),
        "labels": [str(name) for name in class_names],
        "thresholds": {str(name): float(t)
                       for name, t in zip(class_names, thresholds,
                                          strict=True)},
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
    })
    return metrics


def _plot_per_label_f1(path, per_class):
    """Horizontal bars: F1 per label, most frequent label on top."""
    from matplotlib.figure import Figure

    rows = sorted(per_class.items(),
                  key=lambda item: (-item[1]["support"], item[0]))
    figure = Figure(figsize=(7.0, 1.0 + 0.22 * len(rows)),
                    layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(rows))
    axes.barh(positions, [scores["f1"] for _, scores in rows],
              color="tab:blue")
    axes.set_yticks(positions,
                    [f"{name} ({scores['support']})" for name, scores in rows],
                    fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1 on the test split")
    axes.set_title("F1 per label (test support in parentheses)")
    _save_figure(figure, path)


def _write_label_errors(path, texts, y_true, y_pred, class_names,
                        max_errors):
    """Texts with missed or spurious labels, most mistakes first."""
    names = np.asarray(class_names, dtype=object)
    mistakes = np.sum(y_true != y_pred, axis=1)
    selected = np.argsort(-mistakes, kind="stable")[:max_errors]
    selected = selected[mistakes[selected] > 0]

    def write(file):
        writer = csv.writer(file)
        writer.writerow(["text", "true_labels", "predicted_labels",
                         "missed", "spurious"])
        for i in selected:
            writer.writerow([
                _as_str(texts[i]),
                "|".join(names[y_true[i]]),
                "|".join(names[y_pred[i]]),
                "|".join(names[y_true[i] & ~y_pred[i]]),
                "|".join(names[y_pred[i] & ~y_true[i]]),
            ])

    write_atomically(path, write)


def write_multilabel_report(run_dir, *, y_true, y_prob, class_names, texts,
                            thresholds, history=None, extra=None,
                            max_errors=50):
    """`write_report` for multi-label predictions.

    Files: ``metrics.json`` (`compute_multilabel_metrics` plus `extra`),
    ``per_label_f1.png``, ``errors.csv`` (missed and spurious labels per
    text) and, with `history`, ``history.json`` + ``training_curves.png``.
    """
    metrics = compute_multilabel_metrics(y_true, y_prob, class_names,
                                         thresholds)
    if len(texts) != metrics["n_test"]:
        raise ConfigError(
            f"Expected one text per example ({metrics['n_test']}). "
            f"Received {len(texts)} texts."
        )
    clashing = sorted(set(extra or {}) & set(metrics))
    if clashing:
        raise ConfigError(
            f"Expected extra keys that do not overwrite computed metrics. "
            f"Received {clashing}; rename them."
        )
    metrics.update(_to_json_value(dict(extra or {})))
    history = getattr(history, "history", history)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "metrics.json", metrics)
    _plot_per_label_f1(run_dir / "per_label_f1.png", metrics["per_class"])
    y_true = np.asarray(y_true) > 0.5
    y_pred = np.asarray(y_prob) >= np.asarray(list(
        metrics["thresholds"].values()))
    _write_label_errors(run_dir / "errors.csv", texts, y_true, y_pred,
                        list(class_names), max_errors)
    if history is not None:
        _write_json(run_dir / "history.json", history)
        _plot_training_curves(run_dir / "training_curves.png", history,
                              _curve_keys(history))
    return metrics


def format_multilabel_report(metrics):
    """The averaged scores and the per-label table of a multi-label
    metrics dict, as aligned text."""
    rows = [
        [average, *(f"{metrics[f'{average}_{score}']:.4f}"
                    for score in ("precision", "recall", "f1"))]
        for average in ("micro", "macro", "samples")
    ]
    per_label = sorted(metrics["per_class"].items(),
                       key=lambda item: (-item[1]["support"], item[0]))
    thresholds = metrics["thresholds"]
    label_rows = [
        [name, *(f"{scores[key]:.4f}" for key in ("precision", "recall",
                                                   "f1")),
         scores["support"], f"{thresholds[name]:.2f}"]
        for name, scores in per_label
    ]
    return (
        f"Multi-label report ({metrics['n_test']} test examples)\n\n"
        + _table(["average", "precision", "recall", "f1"], rows)
        + f"\n\nsubset accuracy {metrics['subset_accuracy']:.4f}  "
        f"Hamming loss {metrics['hamming_loss']:.4f}\n\n"
        + _table(["label", "precision", "recall", "f1", "support",
                  "threshold"], label_rows)
        + "\n"
    )


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
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
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
