"""Tests for kerasseq.reporting against independent NumPy references."""

import csv
import json
import math
import types

import matplotlib.image
import numpy as np
import pytest
from sklearn.metrics import classification_report

from kerasseq.errors import ConfigError
from kerasseq.reporting import compute_metrics, format_text_report, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CLASS_NAMES = ["negative", "neutral", "positive", "never_predicted"]


def _reference_metrics(y_true, y_pred, num_classes):
    """Accuracy, confusion matrix and per-class P/R/F1 by plain counting."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    for true, pred in zip(y_true, y_pred, strict=True):
        matrix[true, pred] += 1
    accuracy = np.mean(np.asarray(y_true) == np.asarray(y_pred))
    precision, recall, f1 = [], [], []
    for c in range(num_classes):
        tp = matrix[c, c]
        fp = matrix[:, c].sum() - tp
        fn = matrix[c, :].sum() - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    return {
        "accuracy": accuracy,
        "matrix": matrix,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": matrix.sum(axis=1),
        "macro_f1": np.mean(f1),
    }


def _probabilities(y_pred, num_classes, rng):
    """Random softmax rows whose argmax is ``y_pred``, varied confidence."""
    rows = np.arange(len(y_pred))
    logits = rng.normal(size=(len(y_pred), num_classes))
    margin = logits.max(axis=1) - logits[rows, y_pred]
    logits[rows, y_pred] += margin + rng.uniform(0.1, 3.0, len(y_pred))
    probs = np.exp(logits)
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def example():
    """60 examples, 4 classes; class 3 occurs but is never predicted."""
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 4, size=60)
    y_true[:5] = 3
    y_pred = np.where(rng.random(60) < 0.7, y_true, rng.integers(0, 3, 60))
    y_pred[y_pred == 3] = 0
    probs = _probabilities(y_pred, 4, rng)
    texts = [f"example <b>{i}</b>, with comma" for i in range(60)]
    return types.SimpleNamespace(
        y_true=y_true, y_pred=y_pred, probs=probs, texts=texts
    )


def test_compute_metrics_matches_numpy_reference(example):
    metrics = compute_metrics(example.y_true, example.probs, CLASS_NAMES)
    ref = _reference_metrics(example.y_true, example.y_pred, 4)

    assert ref["matrix"][:, 3].sum() == 0  # the class is never predicted
    assert metrics["labels"] == CLASS_NAMES
    assert metrics["n_test"] == 60
    assert metrics["accuracy"] == pytest.approx(ref["accuracy"])
    assert metrics["macro_f1"] == pytest.approx(ref["macro_f1"])
    assert metrics["macro_precision"] == pytest.approx(
        np.mean(ref["precision"])
    )
    assert metrics["macro_recall"] == pytest.approx(np.mean(ref["recall"]))
    np.testing.assert_array_equal(metrics["confusion_matrix"], ref["matrix"])
    for c, name in enumerate(CLASS_NAMES):
        scores = metrics["per_class"][name]
        assert scores["precision"] == pytest.approx(ref["precision"][c])
        assert scores["recall"] == pytest.approx(ref["recall"][c])
        assert scores["f1"] == pytest.approx(ref["f1"][c])
        assert scores["support"] == ref["support"][c]
    assert metrics["per_class"]["never_predicted"]["f1"] == 0.0
    json.dumps(metrics, allow_nan=False)  # plain built-in types only


def test_confusion_matrix_keeps_classes_absent_everywhere():
    y_true = np.array([0, 0, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.1, 0.7], [0.1, 0.1, 0.8]])
    metrics = compute_metrics(y_true, probs, ["a", "b", "c"])
    assert metrics["confusion_matrix"] == [[1, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert metrics["per_class"]["b"]["support"] == 0


@pytest.mark.parametrize(
    ("y_true", "y_prob", "class_names", "fragment"),
    [
        ([0, 1], np.full((2, 3), 1 / 3), ["a", "b"], "Received shape (2, 3)"),
        ([0, 1, 1], np.full((2, 2), 0.5), ["a", "b"], "Received shape (2, 2)"),
        ([0, 2], np.full((2, 2), 0.5), ["a", "b"], "Received 2"),
        ([0.0, 1.0], np.full((2, 2), 0.5), ["a", "b"], "integer class ids"),
        ([], np.zeros((0, 0)), [], "at least one class"),
    ],
)
def test_compute_metrics_rejects_bad_shapes(
    y_true, y_prob, class_names, fragment
):
    with pytest.raises(ConfigError, match="Expected") as info:
        compute_metrics(y_true, y_prob, class_names)
    assert "Received" in str(info.value)
    assert fragment in str(info.value)


def test_write_report_rejects_bad_arguments(tmp_path, example):
    common = {
        "y_true": example.y_true,
        "y_prob": example.probs,
        "class_names": CLASS_NAMES,
    }
    with pytest.raises(ConfigError, match="Received 59 texts"):
        write_report(tmp_path, texts=example.texts[:59], **common)
    with pytest.raises(ConfigError, match="overwrite computed metrics"):
        write_report(
            tmp_path, texts=example.texts, extra={"accuracy": 1}, **common
        )
    with pytest.raises(ConfigError, match="Received 2 tokens and 1 weights"):
        write_report(
            tmp_path,
            texts=example.texts,
            attention_examples=[
                {
                    "tokens": ["a", "b"],
                    "weights": [1.0],
                    "true_label": "x",
                    "predicted_label": "x",
                }
            ],
            **common,
        )
    with pytest.raises(ConfigError, match="max_errors"):
        write_report(tmp_path, texts=example.texts, max_errors=-1, **common)
    with pytest.raises(ConfigError, match="'loss' or accuracy key"):
        write_report(
            tmp_path, texts=example.texts, history={"lr": [0.1]}, **common
        )
    assert list(tmp_path.iterdir()) == []  # checked before writing


HISTORY = {
    "loss": [1.1, 0.7, 0.5],
    "val_loss": [1.0, 0.8, float("nan")],
    "accuracy": [0.4, 0.6, 0.75],
    "val_accuracy": [0.45, 0.55, 0.6],
}
ATTENTION = [
    {
        "tokens": ["<script>alert(1)</script>", "great", "film"],
        "weights": [0.1, 0.7, 0.2],
        "true_label": "positive",
        "predicted_label": "positive",
    },
    {
        "tokens": [b"dull", "&", "slow"],  # bytes as from tf.data
        "weights": np.array([0.5, 0.0, 0.5], dtype="float32"),
        "true_label": "negative",
        "predicted_label": "neutral",
    },
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, example):
    run_dir = tmp_path_factory.mktemp("run") / "nested"
    returned = write_report(
        run_dir,
        y_true=example.y_true,
        y_prob=example.probs,
        class_names=CLASS_NAMES,
        texts=example.texts,
        history=types.SimpleNamespace(history=HISTORY),  # a keras History
        extra={"epochs_run": 3, "train_seconds": np.float32(1.5)},
        attention_examples=ATTENTION,
        max_errors=5,
    )
    return run_dir, returned


def test_write_report_creates_exactly_the_report_files(report_dir):
    run_dir, _ = report_dir
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "attention.html",
        "confusion_matrix.png",
        "errors.csv",
        "history.json",
        "metrics.json",
        "training_curves.png",
    ]


def test_metrics_json_is_sorted_plain_json(report_dir, example):
    run_dir, returned = report_dir
    text = (run_dir / "metrics.json").read_text()
    loaded = json.loads(text)
    assert text == json.dumps(loaded, indent=2, sort_keys=True) + "\n"
    assert loaded == returned
    assert loaded["epochs_run"] == 3
    assert loaded["train_seconds"] == 1.5
    ref = _reference_metrics(example.y_true, example.y_pred, 4)
    assert loaded["accuracy"] == pytest.approx(ref["accuracy"])
    assert loaded["confusion_matrix"] == ref["matrix"].tolist()


def test_history_json_keeps_values_and_nan_becomes_null(report_dir):
    run_dir, _ = report_dir
    history = json.loads((run_dir / "history.json").read_text())
    assert history["loss"] == HISTORY["loss"]
    assert history["val_loss"] == [1.0, 0.8, None]


@pytest.mark.parametrize(
    ("name", "min_width", "min_height"),
    [("confusion_matrix.png", 800, 400), ("training_curves.png", 800, 300)],
)
def test_plots_are_png_images(report_dir, name, min_width, min_height):
    run_dir, _ = report_dir
    path = run_dir / name
    assert path.read_bytes()[:8] == PNG_MAGIC
    height, width, _ = matplotlib.image.imread(path).shape
    assert width >= min_width
    assert height >= min_height


def test_errors_csv_lists_most_confident_mistakes(report_dir, example):
    run_dir, _ = report_dir
    with open(run_dir / "errors.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    mistakes = np.flatnonzero(example.y_pred != example.y_true)
    assert len(mistakes) > 5
    assert len(rows) == 5
    assert list(rows[0]) == [
        "text",
        "true_label",
        "predicted_label",
        "probability",
    ]
    confidences = example.probs[mistakes, example.y_pred[mistakes]]
    expected = np.sort(confidences)[::-1][:5]
    got = np.array([float(row["probability"]) for row in rows])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    for row in rows:
        index = example.texts.index(row["text"])
        assert row["true_label"] == CLASS_NAMES[example.y_true[index]]
        assert row["predicted_label"] == CLASS_NAMES[example.y_pred[index]]
        assert row["true_label"] != row["predicted_label"]


def test_attention_html_is_escaped_and_shaded(report_dir):
    run_dir, _ = report_dir
    page = (run_dir / "attention.html").read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert ">&amp;<" in page
    assert ">dull<" in page
    # Shading relative to each example's largest weight.
    assert "rgba(230, 85, 13, 1.000)" in page
    assert "rgba(230, 85, 13, 0.143)" in page  # 0.1 / 0.7
    assert "rgba(230, 85, 13, 0.000)" in page
    assert page.count('class="example') == 2


def test_errors_csv_has_header_without_mistakes_and_no_optional_files(
    tmp_path,
):
    y_true = np.array([0, 1, 1])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    write_report(
        tmp_path,
        y_true=y_true,
        y_prob=probs,
        class_names=["no", "yes"],
        texts=["a", "b", "c"],
    )
    assert (tmp_path / "errors.csv").read_bytes() == (
        b"text,true_label,predicted_label,probability\r\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "confusion_matrix.png",
        "errors.csv",
        "metrics.json",
    ]


def test_twenty_class_confusion_matrix_renders_larger(tmp_path, report_dir):
    rng = np.random.default_rng(3)
    names = [f"category_number_{i:02d}" for i in range(20)]
    y_true = rng.integers(0, 20, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 20, 200))
    metrics = write_report(
        tmp_path,
        y_true=y_true,
        y_prob=_probabilities(y_pred, 20, rng),
        class_names=names,
        texts=[str(i).encode() for i in range(200)],  # bytes from tf.data
    )
    with open(tmp_path / "errors.csv", newline="", encoding="utf-8") as file:
        error_rows = list(csv.DictReader(file))
    assert len(error_rows) == 50  # the default max_errors
    for row in error_rows:
        assert y_pred[int(row["text"])] != y_true[int(row["text"])]
    ref = _reference_metrics(y_true, y_pred, 20)
    assert metrics["macro_f1"] == pytest.approx(ref["macro_f1"])
    path = tmp_path / "confusion_matrix.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    big_height, big_width, _ = matplotlib.image.imread(path).shape
    small = matplotlib.image.imread(report_dir[0] / "confusion_matrix.png")
    assert big_width > small.shape[1] * 1.5
    assert big_height > small.shape[0] * 1.5


def _matrix_rows(text):
    """Maps each confusion-matrix line's row name to its integer cells."""
    matrix_part = text.split("Confusion matrix")[1]
    rows = {}
    for line in matrix_part.splitlines()[3:]:
        fields = line.split()
        counts = []
        while fields and fields[-1].isdigit():
            counts.insert(0, int(fields.pop()))
        rows[" ".join(fields)] = counts
    return rows


def _report_part(text):
    """The classification-report part of a `format_text_report` text."""
    return text.split("\n\n", 1)[1].split("Confusion matrix")[0]


def test_format_text_report_has_classes_scores_and_matrix(example):
    metrics = compute_metrics(example.y_true, example.probs, CLASS_NAMES)
    text = format_text_report(metrics)
    assert text.startswith("Classification report (60 test examples)\n\n")
    # The report is scikit-learn's for the original predictions.
    assert _report_part(text) == classification_report(
        example.y_true, example.y_pred, labels=range(4),
        target_names=CLASS_NAMES, digits=4, zero_division=0,
    ) + "\n"
    ref = _reference_metrics(example.y_true, example.y_pred, 4)
    for c, name in enumerate(CLASS_NAMES):
        score_line = next(
            line for line in text.splitlines() if line.split()[:1] == [name]
        )
        assert f"{ref['f1'][c]:.4f}" in score_line
        assert score_line.split()[-1] == str(ref["support"][c])
    assert f"{ref['accuracy']:.4f}" in text
    assert f"{ref['macro_f1']:.4f}" in text
    header = text.split("Confusion matrix")[1].splitlines()[2]
    assert header.split()[-4:] == CLASS_NAMES
    rows = _matrix_rows(text)
    for c, name in enumerate(CLASS_NAMES):
        assert rows[name] == ref["matrix"][c].tolist()


def test_format_text_report_of_loaded_metrics_json(report_dir, example):
    """A metrics.json read back gives the same text as the metrics dict."""
    metrics = compute_metrics(example.y_true, example.probs, CLASS_NAMES)
    loaded = json.loads((report_dir[0] / "metrics.json").read_text())
    assert format_text_report(loaded) == format_text_report(metrics)


def test_format_text_report_uses_ids_for_wide_matrices():
    names = [f"a_rather_long_class_name_{i}" for i in range(6)]
    y_true = np.arange(12) % 6
    y_prob = np.eye(6)[(np.arange(12) + np.arange(12) // 6) % 6]
    text = format_text_report(compute_metrics(y_true, y_prob, names))
    ref = _reference_metrics(y_true, y_prob.argmax(axis=1), 6)
    rows = _matrix_rows(text)
    for c, name in enumerate(names):
        assert rows[f"[{c}] {name}"] == ref["matrix"][c].tolist()
    assert all(len(line) <= 100 for line in text.splitlines())
    assert _report_part(text) == classification_report(
        y_true, y_prob.argmax(axis=1), target_names=names, digits=4
    ) + "\n"
    assert math.isclose(ref["accuracy"], 0.5)
    assert "0.5000" in text
