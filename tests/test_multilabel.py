"""Multi-label classification: data, metrics, thresholds, train, export."""

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    hamming_loss,
    precision_recall_fscore_support,
)

import kerasseq
from kerasseq.cli import main
from kerasseq.errors import ConfigError, MultiLabelWarning
from kerasseq.multilabel_reporting import (
    THRESHOLD_CANDIDATES,
    choose_thresholds,
    compute_multilabel_metrics,
)

WORDS = {
    "sports": ["goal", "match", "team", "score"],
    "politics": ["vote", "senate", "law", "election"],
    "tech": ["chip", "software", "laptop", "code"],
}
FILLER = ["the", "a", "today", "news", "report", "about", "and"]


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "labels", "split"])
        writer.writerows(rows)
    return path


def _rows(count, seed, split):
    """Texts made of the keywords of a row's 1 or 2 labels."""
    rng = np.random.default_rng(seed)
    names = sorted(WORDS)
    rows = []
    for _ in range(count):
        chosen = sorted(rng.choice(names, size=rng.integers(1, 3),
                                   replace=False))
        words = [w for name in chosen for w in rng.choice(WORDS[name], 3)]
        words += list(rng.choice(FILLER, 4))
        rng.shuffle(words)
        rows.append([" ".join(words), "|".join(chosen), split])
    return rows


@pytest.fixture(scope="module")
def multilabel_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "topics.csv"
    return _write_csv(path, _rows(240, 0, "train") + _rows(40, 1, "test"))


def _fixed_predictions():
    rng = np.random.default_rng(3)
    y_true = (rng.random((60, 5)) < 0.35).astype("float32")
    y_true[np.arange(60), rng.integers(0, 5, 60)] = 1
    noise = rng.normal(0, 0.3, y_true.shape)
    y_prob = np.clip(0.25 + 0.5 * y_true + noise, 0, 1)
    return y_true, y_prob


def test_metrics_match_sklearn():
    y_true, y_prob = _fixed_predictions()
    thresholds = np.array([0.3, 0.4, 0.5, 0.6, 0.7])
    names = ["a", "b", "c", "d", "e"]
    metrics = compute_multilabel_metrics(y_true, y_prob, names, thresholds)
    truth, predicted = y_true.astype(int), (y_prob >= thresholds).astype(int)
    for average in ("micro", "macro", "samples"):
        p, r, f, _ = precision_recall_fscore_support(
            truth, predicted, average=average, zero_division=0)
        np.testing.assert_allclose(
            [metrics[f"{average}_{k}"] for k in ("precision", "recall", "f1")],
            [p, r, f])
    assert metrics["subset_accuracy"] == pytest.approx(
        accuracy_score(truth, predicted))
    assert metrics["hamming_loss"] == pytest.approx(
        hamming_loss(truth, predicted))
    p, r, f, support = precision_recall_fscore_support(
        truth, predicted, zero_division=0)
    for i, name in enumerate(names):
        assert metrics["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i],
             "support": support[i]})
    assert all(np.isfinite(v) for v in (metrics["micro_f1"],
                                        metrics["macro_f1"]))


def test_threshold_selection_matches_brute_force():
    y_true, y_prob = _fixed_predictions()
    micro = [f1_score(y_true, y_prob >= t, average="micro", zero_division=0)
             for t in THRESHOLD_CANDIDATES]
    best = THRESHOLD_CANDIDATES[int(np.argmax(micro))]
    np.testing.assert_allclose(choose_thresholds(y_true, y_prob),
                               np.full(5, best))
    expected = []
    for c in range(5):
        scores = [f1_score(y_true[:, c], y_prob[:, c] >= t, zero_division=0)
                  for t in THRESHOLD_CANDIDATES]
        expected.append(THRESHOLD_CANDIDATES[int(np.argmax(scores))]
                        if max(scores) > 0 else best)
    np.testing.assert_allclose(
        choose_thresholds(y_true, y_prob, "per_label"), expected)


def test_loader_gives_a_multi_hot_matrix(multilabel_csv):
    dataset = kerasseq.load_dataset(multilabel_csv, multi_label=True)
    assert dataset.multi_label
    assert dataset.class_names == ["politics", "sports", "tech"]
    with open(multilabel_csv, encoding="utf-8") as file:
        rows = [r for r in csv.DictReader(file) if r["split"] == "train"]
    expected = np.array([[name in r["labels"].split("|")
                          for name in dataset.class_names] for r in rows])
    np.testing.assert_array_equal(dataset.train_labels, expected)
    _, train_y, _, val_y = dataset.validation_split(0.25, seed=0)
    assert train_y.shape[1] == val_y.shape[1] == 3
    assert len(train_y) + len(val_y) == len(rows)


def test_single_label_run_on_joined_labels_warns(multilabel_csv):
    with pytest.warns(MultiLabelWarning, match="--multi-label"):
        dataset = kerasseq.load_dataset(multilabel_csv)
    assert "politics|sports" in dataset.class_names


def test_nbsvm_ratios_from_multi_hot_labels():
    from kerasseq.layers import LogCountRatioLogits

    ids = np.array([[1, 2, 0], [2, 3, 3], [1, 3, 0], [4, 2, 1]])
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype="float32")
    layer = LogCountRatioLogits(input_dim=5, num_classes=2, smoothing=1.0)
    layer.adapt_to_labels([(ids, labels)])
    present = np.zeros((4, 5))
    for row, text in enumerate(ids):
        present[row, [t for t in set(text.tolist()) if t]] = 1
    expected = np.zeros((5, 2))
    for c in range(2):
        p = present[labels[:, c] == 1].sum(0) + 1
        q = present[labels[:, c] == 0].sum(0) + 1
        expected[:, c] = np.log(p / p.sum()) - np.log(q / q.sum())
    expected[0] = 0
    np.testing.assert_allclose(np.asarray(layer.ratios), expected,
                               rtol=1e-5)


def test_train_report_export_predict(multilabel_csv, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--model", "bag_of_embeddings", "--data",
                 str(multilabel_csv), "--multi-label", "--epochs", "8",
                 "--out", str(out), "--quiet", "--learning-rate", "0.02",
                 "--threshold-mode", "per_label"])
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "Multi-label report" in printed and "subset accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["multi_label"] and np.isfinite(metrics["micro_f1"])
    assert metrics["micro_f1"] > 0.8
    assert set(metrics["per_class"]) == set(WORDS)
    thresholds = json.loads((out / "config.json").read_text())["thresholds"]
    assert thresholds == metrics["thresholds"]
    assert (out / "per_label_f1.png").stat().st_size > 0
    assert not (out / "confusion_matrix.png").exists()
    with open(out / "errors.csv", encoding="utf-8") as file:
        header = next(csv.reader(file))
    assert header == ["text", "true_labels", "predicted_labels", "missed",
                      "spurious"]

    texts = ["goal match team vote senate", "chip software laptop"]
    assert main(["predict", str(out / "saved_model"), *texts]) == 0
    printed = [json.loads(line)
               for line in capsys.readouterr().out.splitlines()]
    exported = [row["labels"] for row in printed]
    assert exported == [["politics", "sports"], ["tech"]]
    for loaded in (kerasseq.load(out), kerasseq.load(out / "saved_model")):
        assert loaded.predict(texts) == exported
    probabilities = np.array([list(row["probabilities"].values())
                              for row in printed])
    np.testing.assert_allclose(
        probabilities, kerasseq.load(out).predict_proba(texts), atol=1e-5)

    assert main(["evaluate", str(out), "--data", str(multilabel_csv),
                 "--out", str(tmp_path / "eval")]) == 0
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert evaluated["micro_f1"] == pytest.approx(metrics["micro_f1"])


@pytest.mark.parametrize("name", kerasseq.models.names())
def test_every_model_gets_a_sigmoid_head(name):
    model = kerasseq.models.build(name, 30, 4, multi_label=True)
    head = model.get_layer("classifier")
    assert head.activation.__name__ == "sigmoid"
    assert head.dtype_policy.compute_dtype == "float32"
    out = np.asarray(model(np.array([[2, 3, 4, 0], [5, 6, 0, 0]])))
    assert out.shape == (2, 4) and np.all((out > 0) & (out < 1))


def test_multi_label_refuses_what_it_does_not_support():
    with pytest.raises(ConfigError, match="class_weight"):
        kerasseq.TrainConfig(multi_label=True, class_weight="balanced")
    with pytest.raises(ConfigError, match="multiworker"):
        kerasseq.TrainConfig(multi_label=True, strategy="multiworker")


def _train_error(data, capsys, *extra):
    code = main(["train", "--model", "bag_of_embeddings", "--data",
                 str(data), "--epochs", "1", "--quiet", *extra])
    assert code == 2
    return capsys.readouterr().err


def test_empty_label_set_is_rejected(tmp_path, capsys):
    rows = _rows(20, 0, "train") + _rows(6, 1, "test")
    rows[4][1] = "|"
    data = _write_csv(tmp_path / "d.csv", rows)
    error = _train_error(data, capsys, "--multi-label", "--out",
                         str(tmp_path / "run"))
    assert "row 6 has an empty label set" in error
    assert not (tmp_path / "run").exists()


def test_multi_label_without_separators_is_rejected(tmp_path, capsys):
    rows = [[t, labels.split("|")[0], s]
            for t, labels, s in _rows(20, 0, "train") + _rows(6, 1, "test")]
    data = _write_csv(tmp_path / "d.csv", rows)
    error = _train_error(data, capsys, "--multi-label", "--out",
                         str(tmp_path / "run"))
    assert "Drop --multi-label" in error


def test_unseen_test_label_is_rejected(tmp_path, capsys):
    rows = _rows(20, 0, "train") + _rows(6, 1, "test")
    rows[-1][1] = "sports|weather"
    data = _write_csv(tmp_path / "d.csv", rows)
    error = _train_error(data, capsys, "--multi-label", "--out",
                         str(tmp_path / "run"))
    assert "['weather']" in error


def test_multi_label_on_a_builtin_source_is_refused(tmp_path, capsys):
    error = _train_error("builtin:synthetic_sentiment", capsys,
                         "--multi-label", "--out", str(tmp_path / "run"))
    assert "multi-label" in error


def test_cli_warns_on_one_line_for_joined_labels(multilabel_csv, tmp_path,
                                                  capsys):
    code = main(["train", "--model", "bag_of_embeddings", "--data",
                 str(multilabel_csv), "--epochs", "1", "--quiet",
                 "--no-export", "--out", str(tmp_path / "run")])
    assert code == 0
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    assert len(warnings) == 1 and "--multi-label" in warnings[0]
