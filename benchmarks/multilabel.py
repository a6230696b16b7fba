"""Multi-label: kerasseq models next to a TF-IDF one-vs-rest LinearSVC.

Trains each ``--models`` entry (a registered model name, optionally with
hyper-parameters: ``ngram_bag:embedding_dim=64``) with
``multi_label=True`` on the train split (the validation split, 10% of
train, chooses the decision threshold), then fits scikit-learn's
``TfidfVectorizer()`` + ``OneVsRestClassifier(LinearSVC())`` on the same
train split, and prints test micro-/macro-F1 and the time of each as a
Markdown table.

Usage::

    python benchmarks/multilabel.py --epochs 10 \\
        --models ngram_bag:embedding_dim=64,bag_of_embeddings
"""

import argparse
import csv
import gzip
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kerasseq.files import data_dir  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--data", type=Path,
        default=data_dir() / "multilabel" / "reuters21578.csv.gz")
    parser.add_argument("--models", default="ngram_bag:embedding_dim=64",
                        help="comma-separated NAME[:KEY=VALUE:...] entries")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--threshold-mode", default="global",
                        choices=("global", "per_label"))
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def kerasseq_row(entry, args, out):
    from kerasseq import training

    name, *assignments = entry.split(":")
    hparams = dict(a.split("=", 1) for a in assignments)
    config = training.TrainConfig(
        model=name, data=str(args.data), multi_label=True,
        epochs=args.epochs, learning_rate=args.learning_rate,
        threshold_mode=args.threshold_mode, seed=args.seed,
        hparams=hparams, out=str(out / name), export=False,
    )
    start = time.perf_counter()
    result = training.train(config, verbose=0)
    seconds = time.perf_counter() - start
    metrics = result.metrics
    thresholds = sorted(set(metrics["thresholds"].values()))
    note = (f"{metrics['epochs_run']} epochs, threshold "
            f"{thresholds[0]:.2f}" if len(thresholds) == 1
            else f"{metrics['epochs_run']} epochs, per-label thresholds")
    return (entry, metrics["micro_f1"], metrics["macro_f1"], seconds, note)


def baseline_row(path):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import f1_score
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    from sklearn.svm import LinearSVC

    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    parts = {
        split: ([r["text"] for r in rows if r["split"] == split],
                [r["labels"].split("|") for r in rows if r["split"] == split])
        for split in ("train", "test")
    }
    start = time.perf_counter()
    binarizer = MultiLabelBinarizer().fit(parts["train"][1])
    vectorizer = TfidfVectorizer()
    classifier = OneVsRestClassifier(LinearSVC()).fit(
        vectorizer.fit_transform(parts["train"][0]),
        binarizer.transform(parts["train"][1]),
    )
    predicted = classifier.predict(vectorizer.transform(parts["test"][0]))
    seconds = time.perf_counter() - start
    truth = binarizer.transform(parts["test"][1])
    return ("TF-IDF + OneVsRest LinearSVC (scikit-learn)",
            f1_score(truth, predicted, average="micro", zero_division=0),
            f1_score(truth, predicted, average="macro", zero_division=0),
            seconds, "unigrams, defaults")


def main(argv=None):
    args = parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kerasseq-multilabel-") as out:
        for entry in args.models.split(","):
            rows.append(kerasseq_row(entry, args, Path(out)))
            print(rows[-1], flush=True)
    rows.append(baseline_row(args.data))
    print("| model | test micro-F1 | test macro-F1 | time (s) | notes |")
    print("|---|---:|---:|---:|---|")
    for name, micro, macro, seconds, note in rows:
        print(f"| {name} | {micro:.4f} | {macro:.4f} | {seconds:.0f} | "
              f"{note} |")


if __name__ == "__main__":
    main()
