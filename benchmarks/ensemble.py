"""Model averaging: does an ensemble beat the best single model?

For one dataset it trains each model (a recipe name such as ``best_imdb``,
a recipe file or a registered model name, as in ``accuracy.py``) with
`kerasseq.training.train` on the same seed, hence the same validation
split, then averages the class probabilities of every subset of two or
more models and prints validation and test accuracy for each. Choose on
the validation column; the test column is for the report only. Recipes
that refit are run without the refit here (a refit model has seen the
validation split). An ensemble recipe (``best_mr``) contributes each of
its members as a model of its own (a member with ``repeats``: the
average of its repeats).

With ``--folds K`` the comparison uses the training split only, by K-fold
cross-validation: each model is trained K times (each time on the other
folds, with its own validation split for early stopping) and predicts
the fold it did not see; the table then gives the accuracy of these
out-of-fold predictions on all of train, a steadier ground for choosing
than one small validation split (MR: 853 sentences), and no test column.
Here recipes that refit do refit, on the other folds (the held-out fold
stays unseen), so each fold's model is made the way the recipe makes it.

Usage::

    python benchmarks/ensemble.py --dataset mr \\
        --models best_mr,bilstm_bahdanau,ngram_bigru
    python benchmarks/ensemble.py --dataset mr --folds 5 \\
        --models best_mr,nbsvm
"""

import argparse
import csv
import dataclasses
import itertools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import REPO, config_for, find_datasets, label  # noqa: E402

from kerasseq.files import data_dir  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--data-dir", type=Path, default=data_dir())
    parser.add_argument("--dataset", required=True,
                        help="NAME of NAME.csv.gz in --data-dir")
    parser.add_argument("--models", required=True,
                        help="comma-separated recipe/model names (2 or more)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int,
                        help="override every model's epochs")
    parser.add_argument("--runs-dir", type=Path,
                        default=REPO / "runs" / "ensemble")
    parser.add_argument("--folds", type=int, default=0,
                        help="K >= 2: compare by K-fold cross-validation "
                             "on train (no test column)")
    args = parser.parse_args(argv)
    if args.folds == 1 or args.folds < 0:
        parser.error(f"--folds must be 0 (off) or >= 2, got {args.folds}")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if len(args.models) < 2:
        parser.error("--models needs at least two names")
    return args


def probabilities(result, texts):
    """Class probabilities of a finished run's model for raw `texts`."""
    from kerasseq.training import predict_proba

    return predict_proba(result.model,
                         result.tokenizer.texts_to_sequences(texts),
                         result.config.batch_size, result.config.maxlen)


def subsets(names):
    """Every combination of one or more of `names`, smallest first."""
    return [combo for size in range(1, len(names) + 1)
            for combo in itertools.combinations(names, size)]


def accuracy(probs, labels):
    return float(np.mean(np.argmax(probs, axis=1) == labels)) * 100


def candidates(args, path, keep_refit=False):
    """``(name, [TrainConfig, ...])`` per model: one config, or one per
    repeat of an ensemble recipe's member; the members become candidates
    of their own (``best_mr.0-nbsvm``, ...). Without `keep_refit` every
    config has ``refit=False``, as a refit model has seen the validation
    split; cross-validation keeps it."""
    from kerasseq.ensemble import member_configs

    found = []
    for entry in args.models:
        model = label(entry)
        config, members = config_for(
            entry, path, args.runs_dir / f"{args.dataset}_{model}", args)
        if not members:
            found.append((model, [config]))
            continue
        for index, (runs, member) in enumerate(
                zip(member_configs(config, members), members, strict=True)):
            found.append((f"{model}.{index}-{member['model']}", runs))
    return [(name, [dataclasses.replace(c, refit=c.refit and keep_refit,
                                        overwrite=True)
                    for c in configs])
            for name, configs in found]


def write_fold(dataset, held_out, path):
    """A CSV of `dataset`'s training split whose rows `held_out` are the
    ``test`` split and the others ``train``."""
    held_out = set(held_out.tolist())
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label", "split"])
        for index, (text, label) in enumerate(
                zip(dataset.train_texts, dataset.train_labels, strict=True)):
            writer.writerow([text, dataset.class_names[label],
                             "test" if index in held_out else "train"])


def cross_validate(args, path):
    """Rows ``(models averaged, out-of-fold accuracy %)``."""
    from sklearn.model_selection import StratifiedKFold

    from kerasseq.datasets import load_dataset
    from kerasseq.training import train

    found = candidates(args, path, keep_refit=True)
    first = found[0][1][0]
    dataset = load_dataset(first.data, **first.data_options)
    labels = np.asarray(dataset.train_labels)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    outputs = {name: np.zeros((len(labels), len(dataset.class_names)))
               for name, _ in found}
    cv_dir = args.runs_dir / f"{args.dataset}_cv{args.folds}"
    cv_dir.mkdir(parents=True, exist_ok=True)
    for fold, (_, held_out) in enumerate(folds.split(labels, labels)):
        fold_data = cv_dir / f"fold{fold}.csv"
        write_fold(dataset, held_out, fold_data)
        texts = [dataset.train_texts[i] for i in held_out]
        for name, configs in found:
            results = [train(dataclasses.replace(
                config, data=str(fold_data), data_options={},
                out=str(cv_dir / (f"{name}_fold{fold}"
                                  + (f"_r{k}" if len(configs) > 1 else ""))),
            ), verbose=0) for k, config in enumerate(configs)]
            outputs[name][held_out] = np.mean(
                [probabilities(r, texts) for r in results], axis=0)
            print(f"fold {fold + 1}/{args.folds} {name}: "
                  f"{accuracy(outputs[name][held_out], labels[held_out]):.2f}",
                  flush=True)
    rows = [(" + ".join(combo),
             accuracy(np.mean([outputs[m] for m in combo], axis=0), labels))
            for combo in subsets(list(outputs))]
    print(f"| {args.dataset}: models averaged | {args.folds}-fold "
          "cross-validation accuracy (train) |")
    print("|---|---:|")
    for name, cv in rows:
        print(f"| {name} | {cv:.2f} |")
    return rows


def main(argv=None):
    from kerasseq.datasets import load_dataset
    from kerasseq.training import train

    args = parse_args(argv)
    path = find_datasets(args.data_dir, args.dataset)[args.dataset]
    if args.folds:
        return cross_validate(args, path)
    outputs = {}
    datasets = {}  # loaded once per set of data options
    for model, configs in candidates(args, path):
        config = configs[0]
        results = [train(c, verbose=0) for c in configs]
        key = json.dumps(config.data_options, sort_keys=True)
        if key not in datasets:
            datasets[key] = load_dataset(config.data, **config.data_options)
        dataset = datasets[key]
        # Repeats draw their own validation splits: compare on the first's.
        _, _, val_texts, val_labels = dataset.validation_split(
            config.validation_fraction, config.seed
        )
        outputs[model] = (
            np.mean([probabilities(r, val_texts) for r in results], axis=0),
            np.asarray(val_labels),
            np.mean([probabilities(r, dataset.test_texts) for r in results],
                    axis=0),
            np.asarray(dataset.test_labels),
        )
    rows = []
    for combo in subsets(list(outputs)):
        val = np.mean([outputs[m][0] for m in combo], axis=0)
        test = np.mean([outputs[m][2] for m in combo], axis=0)
        rows.append((" + ".join(combo),
                     accuracy(val, outputs[combo[0]][1]),
                     accuracy(test, outputs[combo[0]][3])))
    print(f"| {args.dataset}: models averaged | val accuracy | "
          "(test accuracy) |")
    print("|---|---:|---:|")
    for name, val, test in rows:
        print(f"| {name} | {val:.2f} | ({test:.2f}) |")
    return rows


if __name__ == "__main__":
    main()
