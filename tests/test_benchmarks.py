"""Smoke tests: benchmarks/accuracy.py and benchmarks/throughput.py run."""

import csv
import gzip
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from kerasseq.datasets import load_dataset

REPO = Path(__file__).resolve().parents[1]
SERVING = "## Serving\n\nkept | as | is\n"


def _load(name):
    path = REPO / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_csv(path, rows=200, seed=0):
    rng = np.random.default_rng(seed)
    good = ["great", "fine", "lovely", "superb", "fun"]
    bad = ["awful", "dull", "boring", "poor", "bad"]
    filler = ["the", "movie", "plot", "was", "and", "a", "cast", "very"]
    with gzip.open(path, "wt", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["text", "label", "split"])
        for row in range(rows):
            label = row % 2
            words = list(rng.choice(filler, size=rng.integers(3, 12)))
            words.insert(int(rng.integers(0, len(words))),
                         rng.choice(good if label else bad))
            split = "test" if row % 5 == 0 else "train"
            writer.writerow([" ".join(words), ["neg", "pos"][label], split])
    return path


def test_replace_section_keeps_other_sections(tmp_path):
    accuracy = _load("accuracy")
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Title\n\n## Accuracy\n\nold\n\n{SERVING}")
    accuracy.replace_section(results, "## Accuracy", "## Accuracy\n\nnew")
    accuracy.replace_section(results, "## Throughput", "## Throughput\n\nx")
    assert results.read_text() == (
        f"# Title\n\n## Accuracy\n\nnew\n\n{SERVING}\n## Throughput\n\nx\n"
    )


def test_accuracy_quick_writes_table_from_metrics(tmp_path):
    accuracy = _load("accuracy")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_csv(data_dir / "tiny.csv.gz")
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmark results\n\n{SERVING}")
    runs = tmp_path / "runs"
    rows = accuracy.main([
        "--data-dir", str(data_dir), "--quick", "--models", "ngram_bag",
        "--runs-dir", str(runs), "--results", str(results),
    ])
    assert [r["model"] for r in rows] == ["tfidf_logreg", "ngram_bag"]
    metrics = json.loads((runs / "tiny_ngram_bag" / "metrics.json")
                         .read_text())
    text = results.read_text()
    assert SERVING in text
    row = re.search(r"^\| tiny \| ngram_bag \| ([\d.]+) \| ([\d.]+) \| 1 \|",
                    text, re.M)
    assert float(row.group(1)) == pytest.approx(
        100 * metrics["accuracy"], abs=0.006
    )
    assert float(row.group(2)) == pytest.approx(
        100 * metrics["macro_f1"], abs=0.006
    )
    assert "--datasets tiny --models ngram_bag" in text
    assert "CNN-rand (Kim 2014)" in text


def test_throughput_smoke(tmp_path):
    throughput = _load("throughput")
    data = _write_csv(tmp_path / "imdb.csv.gz", rows=120)
    results = tmp_path / "RESULTS.md"
    rows = throughput.main([
        "--data", str(data), "--samples", "32", "--repeats", "1",
        "--models", "gru", "--maxlen", "12", "--sort-window", "2",
        "--embedding-dim", "8", "--units", "8", "--batch-size", "8",
        "--results", str(results),
    ])
    assert [r["model"] for r in rows] == ["gru"]
    assert rows[0]["plain"] > 0 and rows[0]["kerasseq"] > 0
    text = results.read_text()
    assert "| gru |" in text and "`sort_window=2`" in text


def test_previous_rows_keeps_datasets_not_rerun(tmp_path):
    accuracy = _load("accuracy")
    results = tmp_path / "RESULTS.md"
    row_a = "| a | m1 | 80.00 | 79.00 | 3 | 10 | `cmd a` |"
    row_b = "| b | m2 | 90.00 | 89.00 | 2 | 20 | `cmd b` |"
    results.write_text(
        "# R\n\n## Accuracy\n\n| dataset | model | accuracy | macro-F1 | "
        "epochs | train s | rerun |\n|---|---|---:|---:|---:|---:|---|\n"
        f"{row_a}\n{row_b}\n\n| dataset | model | accuracy | source |\n"
        "|---|---|---:|---|\n| mr | x | 1 | y |\n\n" + SERVING
    )
    assert accuracy.previous_rows(results, {("a", "m1")}) == [row_b]


@pytest.mark.parametrize("name", ["best_mr", "best_imdb", "best_sms_spam"])
def test_accuracy_trains_the_recipe_files_configs(tmp_path, name):
    from conftest import recorded_recipe_configs

    from kerasseq.ensemble import member_configs

    recorded = recorded_recipe_configs()[name]
    accuracy = _load("accuracy")
    args = accuracy.parse_args(["--seed", "2", "--epochs", "3"])
    out = str(tmp_path / "run")
    config, members = accuracy.config_for(name, "d.csv", out, args)
    assert config.to_dict() == {
        **recorded["config"], "data": "d.csv", "out": out, "seed": 2,
        "overwrite": True, "export": False, "epochs": 3}
    if recorded["members"] is None:
        assert members is None
        return
    # Members keep their own epochs; seeds count up from the new seed.
    assert [[c.to_dict() for c in runs]
            for runs in member_configs(config, members)] == [
        [{**run, "data": "d.csv", "seed": run["seed"] + 2,
          "out": run["out"].replace(str(Path("runs") / name), out)}
         for run in runs]
        for runs in recorded["members"]]


def _run_ensemble_benchmark(tmp_path, *extra):
    """``(rows, data_dir, runs)`` of `benchmarks/ensemble.py` on a tiny
    CSV with ``bag_of_embeddings`` and ``nbsvm`` for one epoch."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_csv(data_dir / "tiny.csv.gz")
    runs = tmp_path / "runs"
    rows = _load("ensemble").main([
        "--data-dir", str(data_dir), "--dataset", "tiny", "--epochs", "1",
        "--models", "bag_of_embeddings,nbsvm", "--runs-dir", str(runs),
        *extra,
    ])
    return rows, data_dir, runs


def test_ensemble_rows_match_each_runs_metrics(tmp_path, capsys):
    rows, _, runs = _run_ensemble_benchmark(tmp_path)
    assert [name for name, _, _ in rows] == [
        "bag_of_embeddings", "nbsvm", "bag_of_embeddings + nbsvm"
    ]
    for name, _, test in rows[:2]:
        metrics = json.loads((runs / f"tiny_{name}" / "metrics.json")
                             .read_text())
        assert test == pytest.approx(metrics["accuracy"] * 100)
    assert "| bag_of_embeddings + nbsvm |" in capsys.readouterr().out


def test_ensemble_folds_average_a_members_repeats(tmp_path):
    from kerasseq.training import load_run, predict_proba

    module = _load("ensemble")
    # As in best_mr: the recipe refits, and cross-validation keeps that.
    recipe = tmp_path / "bagged.toml"
    recipe.write_text(
        'description = "a bagged member"\n'
        '[config]\nmodel = "ensemble"\nrefit = true\nmaxlen = 12\n'
        '[[members]]\nmodel = "bag_of_embeddings"\nepochs = 1\n'
        '[[members]]\nmodel = "nbsvm"\nepochs = 1\nrepeats = 2\n'
        'hparams = { buckets = 1024 }\n'
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _write_csv(data_dir / "tiny.csv.gz")
    runs = tmp_path / "runs"
    rows = module.main([
        "--data-dir", str(data_dir), "--dataset", "tiny", "--folds", "2",
        "--epochs", "1", "--models", f"{recipe},bag_of_embeddings",
        "--runs-dir", str(runs),
    ])
    names = [name for name, _ in rows]
    assert names[:3] == ["bagged.0-bag_of_embeddings", "bagged.1-nbsvm",
                         "bag_of_embeddings"]
    # The bagged member's rows: the average of its two seeds' runs.
    correct = 0
    for fold in (0, 1):
        held_out = load_dataset(str(runs / "tiny_cv2" / f"fold{fold}.csv"))
        probs = []
        for repeat in (0, 1):
            model, tokenizer, record = load_run(
                runs / "tiny_cv2" / f"bagged.1-nbsvm_fold{fold}_r{repeat}")
            assert record["config"]["seed"] == repeat
            assert record["config"]["refit"] is True
            probs.append(predict_proba(
                model, tokenizer.texts_to_sequences(held_out.test_texts),
                32, record["config"]["maxlen"]))
        correct += np.sum(np.mean(probs, 0).argmax(1)
                          == np.asarray(held_out.test_labels))
    train_size = len(load_dataset(str(data_dir / "tiny.csv.gz")).train_texts)
    assert rows[1][1] == pytest.approx(correct / train_size * 100)


def test_ensemble_folds_score_out_of_fold_predictions(tmp_path, capsys):
    rows, data_dir, runs = _run_ensemble_benchmark(tmp_path, "--folds", "2")
    assert [name for name, _ in rows] == [
        "bag_of_embeddings", "nbsvm", "bag_of_embeddings + nbsvm"
    ]
    # Every training row is held out by exactly one fold; test rows never.
    train = load_dataset(str(data_dir / "tiny.csv.gz")).train_texts
    held_out = []
    for fold in (0, 1):
        fold_data = load_dataset(str(runs / "tiny_cv2" / f"fold{fold}.csv"))
        held_out += fold_data.test_texts
        assert len(fold_data.train_texts) + len(fold_data.test_texts) == len(
            train)
    assert sorted(held_out) == sorted(train)
    # The single-model rows are the accuracy of the two folds' predictions.
    for name, cv in rows[:2]:
        correct = sum(
            json.loads((runs / "tiny_cv2" / f"{name}_fold{fold}"
                        / "metrics.json").read_text())["accuracy"]
            * len(load_dataset(str(runs / "tiny_cv2" / f"fold{fold}.csv"))
                  .test_texts)
            for fold in (0, 1)
        )
        assert cv == pytest.approx(correct / len(train) * 100)
    assert "2-fold cross-validation accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _load("ensemble").parse_args(
            ["--dataset", "tiny", "--models", "a,b", "--folds", "1"])
