"""Multi-label evaluation reports: thresholds, metrics, files and text.

`choose_thresholds` picks decision thresholds on validation predictions
(one global or one per label, from `THRESHOLD_CANDIDATES`);
`compute_multilabel_metrics` scores ``y_prob >= thresholds`` (micro,
macro and samples precision/recall/F1, subset accuracy, Hamming loss,
per-label scores); `write_multilabel_report` writes metrics.json,
per_label_f1.png, errors.csv and the training curves into a run
directory; `format_multilabel_report` prints a metrics dict as text
(`kerasseq.reporting.format_text_report` hands multi-label metrics to
it). The single-label reports and the shared helpers (atomic JSON and
figure writing, training curves, text tables) stay in
`kerasseq.reporting`.
"""

import csv
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    hamming_loss,
    precision_recall_fscore_support,
)

from kerasseq.errors import ConfigError
from kerasseq.files import write_atomically
from kerasseq.reporting import (
    _as_str,
    _curve_keys,
    _plot_training_curves,
    _save_figure,
    _table,
    _to_json_value,
    _write_json,
)

# Multi-label decision thresholds tried on the validation split.
THRESHOLD_CANDIDATES = np.round(np.arange(0.05, 0.951, 0.01), 2)


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
