"""Accuracy benchmark: kerasseq recipes on the real datasets.

For every dataset (``NAME.csv.gz`` with header ``text,label,split`` in
``--data-dir``, default ``$KERASSEQ_DATA_DIR`` or ``../shared/datasets``
next to the repository) it trains the chosen recipes / registered models
through `kerasseq.training.train` (fixed seed, tuning only on the
validation split carved from train), evaluates on the test split, fits
the scikit-learn TF-IDF (uni+bigram) LogisticRegression baseline in the
same run, and writes the ``## Accuracy`` section of
``benchmarks/RESULTS.md`` (other sections are kept).

Usage::

    python benchmarks/accuracy.py                         # everything
    python benchmarks/accuracy.py --datasets mr --models best_mr,lstm
    python benchmarks/accuracy.py --quick                 # smoke run

``--models`` takes recipe names (``best_mr``, ``best_imdb``,
``best_sms_spam``: the config, and members, of
``kerasseq/recipes/NAME.toml``), paths of recipe files (``.toml``) and
registered model names (``kerasseq models``; trained with the
`TrainConfig` defaults); ``none`` runs only the baseline. The default
is ``best``: the dataset's own ``best_NAME`` recipe, or for other
datasets the ``best_*`` recipe whose dataset has the closest median text
length.
"""

import argparse
import datetime
import gzip
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kerasseq import recipes  # noqa: E402
from kerasseq.files import data_dir  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "RESULTS.md"
SECTION = "## Accuracy"
# Median words per training text of the datasets the best_* recipes were
# tuned on (pick the closest recipe for a dataset without one).
RECIPE_MEDIAN_WORDS = {"best_mr": 20, "best_sms_spam": 12, "best_imdb": 174}
BASELINE = "tfidf_logreg"
BASELINE_LABEL = (
    "scikit-learn TfidfVectorizer(ngram_range=(1, 2)) + "
    "LogisticRegression(C=10, solver='liblinear')"
)
ANCHORS = [
    ("imdb", "keras-io bidirectional LSTM example", "84.3",
     "https://keras.io/examples/nlp/bidirectional_lstm_imdb/"),
    ("imdb", "keras-io Transformer block", "87.5",
     "https://keras.io/examples/nlp/text_classification_with_transformer/"),
    ("imdb", "NBSVM-bigram (Wang & Manning 2012)", "91.2",
     "https://aclanthology.org/P12-2018/"),
    ("mr", "CNN-rand (Kim 2014)", "76.1",
     "https://aclanthology.org/D14-1181/"),
    ("mr", "CNN-static, word2vec (Kim 2014)", "81.5",
     "https://aclanthology.org/D14-1181/"),
    ("mr", "NBSVM-bigram (Wang & Manning 2012)", "79.4",
     "https://aclanthology.org/P12-2018/"),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--data-dir", type=Path, default=data_dir())
    parser.add_argument("--datasets", default="all",
                        help="comma-separated names, or 'all' (*.csv.gz)")
    parser.add_argument("--models", default="best",
                        help="comma-separated recipe/model names or 'best'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int,
                        help="override every recipe's epochs")
    parser.add_argument("--limit", type=int,
                        help="use only the first N train and N test rows "
                        "(stratified subsample, for smoke runs)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch, --limit 1000 unless given")
    parser.add_argument("--runs-dir", type=Path,
                        default=REPO / "runs" / "benchmarks")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="markdown file whose '## Accuracy' section is "
                        "(re)written")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = args.epochs or 1
        args.limit = args.limit or 1000
    return args


# ------------------------------------------------------------------- data


def read_csv(path):
    """``(texts, labels, splits)`` lists from a ``text,label,split`` CSV."""
    import csv

    with gzip.open(path, "rt", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    missing = {"text", "label", "split"} - set(rows[0] if rows else {})
    if missing:
        raise SystemExit(
            f"{path}: expected the header text,label,split; missing "
            f"{', '.join(sorted(missing))}"
        )
    return ([r["text"] for r in rows], [r["label"] for r in rows],
            [r["split"] for r in rows])


def subsample_csv(path, limit, seed, out_dir):
    """Writes a stratified subset (<= `limit` train and test rows)."""
    import csv

    from sklearn.model_selection import train_test_split

    texts, labels, splits = read_csv(path)
    keep = []
    for split in ("train", "test"):
        rows = [i for i, s in enumerate(splits) if s == split]
        if len(rows) > limit:
            rows, _ = train_test_split(
                rows, train_size=limit, random_state=seed,
                stratify=[labels[i] for i in rows],
            )
        keep.extend(sorted(rows))
    out_dir.mkdir(parents=True, exist_ok=True)
    subset = out_dir / f"{dataset_name(path)}_limit{limit}.csv.gz"
    with gzip.open(subset, "wt", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["text", "label", "split"])
        writer.writerows([texts[i], labels[i], splits[i]] for i in keep)
    return subset


def dataset_name(path):
    return Path(path).name.removesuffix(".csv.gz")


def find_datasets(data_dir, wanted):
    found = {dataset_name(p): p for p in sorted(data_dir.glob("*.csv.gz"))}
    if not found:
        raise SystemExit(
            f"no *.csv.gz datasets in {data_dir}; pass --data-dir or set "
            "KERASSEQ_DATA_DIR"
        )
    if wanted == "all":
        return found
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in found]
    if unknown:
        raise SystemExit(
            f"dataset(s) {', '.join(unknown)} not in {data_dir}; found: "
            f"{', '.join(found)}"
        )
    return {n: found[n] for n in names}


# --------------------------------------------------------------- baseline


def tfidf_baseline(path):
    """The TF-IDF uni+bigram logistic regression a new user would fit."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    texts, labels, splits = read_csv(path)
    train = [i for i, s in enumerate(splits) if s == "train"]
    test = [i for i, s in enumerate(splits) if s == "test"]
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    x_train = vectorizer.fit_transform([texts[i] for i in train])
    classifier = LogisticRegression(C=10, solver="liblinear")
    classifier.fit(x_train, [labels[i] for i in train])
    predicted = classifier.predict(
        vectorizer.transform([texts[i] for i in test])
    )
    truth = [labels[i] for i in test]
    return {
        "accuracy": accuracy_score(truth, predicted),
        "macro_f1": f1_score(truth, predicted, average="macro"),
        "epochs_run": None,
        "train_seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------- models


def recipe_names():
    return [name for name in recipes.names() if name.startswith("best_")]


def is_recipe(model):
    """Whether a ``--models`` entry is a recipe name or recipe file."""
    return model in recipes.names() or model.endswith(".toml")


def label(model):
    """A ``--models`` entry's name in rows and run directories."""
    return Path(model).stem if model.endswith(".toml") else model


def median_words(path):
    texts, _, splits = read_csv(path)
    return float(np.median([
        len(t.split()) for t, s in zip(texts, splits, strict=True)
        if s == "train"
    ]))


def choose_models(name, path, wanted):
    if wanted != "best":
        return [m.strip() for m in wanted.split(",")
                if m.strip() and m.strip() != "none"]
    if f"best_{name}" in recipe_names():
        return [f"best_{name}"]
    words = median_words(path)
    closest = min(RECIPE_MEDIAN_WORDS,
                  key=lambda r: abs(np.log(RECIPE_MEDIAN_WORDS[r] / words)))
    return [closest]


def config_for(model, data, out, args):
    """``(TrainConfig, members or None)`` for a recipe name or file or a
    registered model name."""
    from kerasseq import models
    from kerasseq.training import TrainConfig

    if is_recipe(model):
        return recipes.load(model).resolve(
            data=data, out=out, epochs=args.epochs or None,
            overrides=[f"seed={args.seed}", "overwrite=true",
                       "export=false"],
        )
    if model not in models.names():
        raise SystemExit(
            f"unknown model {model!r}: not a recipe "
            f"({', '.join(recipes.names())}), recipe file (.toml) nor a "
            f"registered model ({', '.join(models.names())})"
        )
    values = {"model": model, "data": str(data), "out": str(out),
              "seed": args.seed, "overwrite": True, "export": False}
    if args.epochs:
        values["epochs"] = args.epochs
    return TrainConfig.from_dict(values), None


def rerun_command(dataset, model, args):
    parts = ["python benchmarks/accuracy.py", f"--datasets {dataset}",
             f"--models {model}"]
    if args.seed:
        parts.append(f"--seed {args.seed}")
    if args.epochs:
        parts.append(f"--epochs {args.epochs}")
    if args.limit:
        parts.append(f"--limit {args.limit}")
    return " ".join(parts)


def train_one(config, members=None):
    """`train(config)`, or `train_ensemble(config, members)`."""
    from kerasseq.ensemble import train_ensemble
    from kerasseq.training import train

    start = time.perf_counter()
    if members:
        result = train_ensemble(config, members, verbose=2)
    else:
        result = train(config, verbose=2)
    metrics = dict(result.metrics)
    metrics["wall_seconds"] = time.perf_counter() - start
    return metrics


# ---------------------------------------------------------------- report


def machine():
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True,
                              check=False).stdout
        model = re.search(r"Model name:\s*(.+)", text).group(1).strip()
    except (OSError, AttributeError):
        model = platform.processor() or platform.machine()
    import keras
    import tensorflow as tf

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"`lscpu` model name `{model}`, {os.cpu_count()} cores, no GPU "
        f"used; TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"Python {platform.python_version()}; load average at the end "
        f"{load} (the cores are shared with other jobs, so times are "
        "noisy)"
    )


def format_row(dataset, model, metrics, command):
    epochs = metrics.get("epochs_run")
    seconds = metrics.get("train_seconds")
    if metrics.get("refit_epochs"):
        epochs = f"{epochs} + refit {metrics['refit_epochs']}"
        seconds += metrics["refit_seconds"]
    return (
        f"| {dataset} | {model} | {100 * metrics['accuracy']:.2f} | "
        f"{100 * metrics['macro_f1']:.2f} | "
        f"{'-' if epochs is None else epochs} | "
        f"{'-' if seconds is None else f'{seconds:.0f}'} | `{command}` |"
    )


def section_text(rows, args, started):
    lines = [
        SECTION,
        "",
        "Test-split accuracy and macro-F1 (%) written by "
        "`benchmarks/accuracy.py` (last run "
        f"{started:%Y-%m-%d %H:%M} UTC; rows of datasets not rerun are "
        f"kept). Seed {args.seed}; the models are "
        "tuned only on the validation split carved from train "
        "(early stopping restores the best val_loss epoch; `refit N`: "
        "then a fresh model trained on all of train for those N epochs "
        "is the one tested); train s = wall time of `model.fit` (all "
        "epochs, refit included).",
        "",
        f"- Machine: {machine()}.",
        f"- Baseline `{BASELINE}`: {BASELINE_LABEL}, fitted in the same "
        "run on the full train split.",
    ]
    if args.limit:
        lines.append(f"- **Subset run**: at most {args.limit} train and "
                     f"{args.limit} test rows per dataset (`--limit`).")
    lines += [
        "",
        "| dataset | model | accuracy | macro-F1 | epochs | train s | "
        "rerun |",
        "|---|---|---:|---:|---:|---:|---|",
        *rows,
        "",
        "Published anchors (test accuracy %, from the cited papers/pages; "
        "not rerun here):",
        "",
        "| dataset | model | accuracy | source |",
        "|---|---|---:|---|",
        *(f"| {d} | {m} | {a} | {s} |" for d, m, a, s in ANCHORS),
        "",
    ]
    return "\n".join(lines)


def row_order(row):
    """Sort key: dataset, then the baseline first."""
    dataset, model = (c.strip() for c in row.strip("|").split("|")[:2])
    return dataset, model != BASELINE


def previous_rows(path, keep):
    """Result rows of an earlier run in `path`'s section, except `keep`'s.

    Rows are kept unless this run produced the same (dataset, model), so
    benchmarks of different datasets can run one at a time.
    """
    path = Path(path)
    if not path.is_file():
        return []
    section = re.split(r"(?m)^(?=## )", path.read_text(encoding="utf-8"))
    text = next((s for s in section if s.startswith(SECTION + "\n")), "")
    table = text.split("| dataset | model | accuracy | source |")[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if (len(cells) == 7 and line.startswith("| ")
                and cells[0] != "dataset" and (cells[0], cells[1]) not in keep):
            rows.append(line)
    return rows


def replace_section(path, heading, body):
    """Replaces the ``heading`` section of markdown `path` with `body`.

    Sections are ``## `` headings; the others (e.g. ``## Serving``) are
    kept byte for byte. A missing section is appended.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else (
        "# Benchmark results\n"
    )
    parts = re.split(r"(?m)^(?=## )", text)
    body = body.rstrip("\n") + "\n\n"
    replaced = False
    for index, part in enumerate(parts):
        if part.splitlines()[0:1] == [heading]:
            parts[index] = body
            replaced = True
    if not replaced:
        parts[-1] = parts[-1].rstrip("\n") + "\n\n"
        parts.append(body)
    path.write_text("".join(parts).rstrip("\n") + "\n", encoding="utf-8")


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    datasets = find_datasets(args.data_dir, args.datasets)
    rows = []
    results = []
    for name, path in datasets.items():
        data = path
        if args.limit:
            data = subsample_csv(path, args.limit, args.seed,
                                 args.runs_dir / "data")
        if not args.no_baseline:
            metrics = tfidf_baseline(data)
            print(f"{name} {BASELINE}: accuracy {metrics['accuracy']:.4f}",
                  flush=True)
            rows.append(format_row(name, BASELINE, metrics,
                                   rerun_command(name, "none", args)))
            results.append({"dataset": name, "model": BASELINE, **metrics})
        for entry in choose_models(name, path, args.models):
            model = label(entry)
            config, members = config_for(
                entry, data, args.runs_dir / f"{name}_{model}", args)
            metrics = train_one(config, members)
            print(f"{name} {model}: accuracy {metrics['accuracy']:.4f} "
                  f"macro-F1 {metrics['macro_f1']:.4f} "
                  f"({metrics['wall_seconds']:.0f} s)", flush=True)
            rows.append(format_row(name, model, metrics,
                                   rerun_command(name, entry, args)))
            results.append({"dataset": name, "model": model,
                            **{k: metrics[k] for k in (
                                "accuracy", "macro_f1", "epochs_run",
                                "train_seconds", "wall_seconds")}})
    done = {(r["dataset"], r["model"]) for r in results}
    rows = sorted(previous_rows(args.results, done) + rows, key=row_order)
    replace_section(args.results, SECTION, section_text(rows, args, started))
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    (args.runs_dir / "accuracy.json").write_text(
        json.dumps(results, indent=2) + "\n", encoding="utf-8"
    )
    print(f"wrote {args.results}")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
