"""The ``kerasseq`` command: train, evaluate, models, recipes, predict,
export, lr-find, compare, tune, vectors.

A thin argparse layer over `kerasseq.training` and `kerasseq.exporter`.
Heavy modules (TensorFlow, Keras) are imported only by the subcommand
that needs them, so ``kerasseq --help`` and ``kerasseq models`` are quick.
Any `kerasseq.errors.KerasSeqError` becomes exit code 2 and one line
``error: ...`` on stderr; its message, written for Python callers
(``overwrite=True``), names the options instead (``--overwrite``, see
`kerasseq.config.command_line_wording`).
"""

import argparse
import sys
import warnings
from pathlib import Path

from kerasseq.config import (
    add_arguments,
    command_line_wording,
    config_values,
)
from kerasseq.errors import ConfigError, KerasSeqError, KerasSeqWarning

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_TRAIN_EPILOG = """\
--set KEY=VALUE sets a config field (e.g. learning_rate=3e-4,
lr_schedule=cosine, class_weight=balanced, patience=none), a model
hyper-parameter (e.g. units=128; see `kerasseq models --verbose`),
hparams.NAME=VALUE or data_options.NAME=VALUE (options of the data
source, e.g. data_options.text_column=review).
"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="kerasseq",
        description="Text classification with sequence models on Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train one model, write a run directory",
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--recipe", metavar="NAME_OR_PATH",
                       help="train a recipe (`kerasseq recipes` lists them; "
                       "or a .toml path); other options override it")
    train.add_argument("--config", metavar="FILE", dest="config_file",
                       help="a JSON config (a run's config.json or "
                       "best_config.json); other options override it")
    train.add_argument("--export-dir", metavar="DIR",
                       help="with --recipe: export folder (default "
                       "saved_models/NAME)")
    add_arguments(train)
    train.add_argument("--set", action="append", default=[],
                       metavar="KEY=VALUE", dest="assignments",
                       help="a config field, model hyper-parameter, "
                       "hparams.NAME or data_options.NAME (see below)")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar")

    evaluate = commands.add_parser(
        "evaluate", help="evaluate a finished run on a dataset's test split"
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", required=True)
    evaluate.add_argument("--out", help="report folder (default RUN_DIR/eval)")
    evaluate.add_argument("--set", action="append", default=[],
                          metavar="data_options.NAME=VALUE",
                          dest="assignments")

    commands.add_parser("recipes", help="list the recipes and their "
                        "measured numbers")

    models = commands.add_parser("models", help="list the model names")
    models.add_argument("--verbose", action="store_true",
                        help="also show default hyper-parameters")

    lr_find = commands.add_parser(
        "lr-find", help="learning-rate range test (Smith 2017): a plot and "
        "a suggested --learning-rate",
        epilog=_TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(lr_find)
    lr_find.add_argument("--start-lr", type=float, default=1e-6)
    lr_find.add_argument("--end-lr", type=float, default=1.0)
    lr_find.add_argument("--steps", type=int, default=100,
                         help="the most batches to run")
    lr_find.add_argument("--method", choices=("minimum", "steepest"),
                         default="minimum",
                         help="minimum: the lowest-loss rate / 10; "
                         "steepest: the steepest descent before it")
    lr_find.add_argument("--set", action="append", default=[],
                         metavar="KEY=VALUE", dest="assignments")

    compare = commands.add_parser(
        "compare", help="train several models on the same split; one "
        "table and plots",
        epilog="--set KEY=VALUE: a config field, data_options.NAME, or a "
        "hyper-parameter given to every model that has it (e.g. units=64).",
    )
    compare.add_argument("--models", required=True,
                         help="comma-separated model names")
    compare.add_argument("--data", required=True)
    compare.add_argument("--epochs", type=int)
    compare.add_argument("--out", default="runs/compare")
    compare.add_argument("--overwrite", action="store_true")
    compare.add_argument("--set", action="append", default=[],
                         metavar="KEY=VALUE", dest="assignments")

    export = commands.add_parser(
        "export", help="export a finished run to ONNX or TFLite (token ids "
        "in; the folder holds the tokenizer and a standalone example)",
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--format", required=True, choices=("onnx",
                                                           "tflite"))
    export.add_argument("--quantize", choices=("dynamic", "float16"))
    export.add_argument("--out", help="export folder (default "
                        "RUN_DIR/FORMAT[-QUANTIZE])")
    export.add_argument("--overwrite", action="store_true")

    tune = commands.add_parser(
        "tune", help="hyper-parameter search with KerasTuner (validation "
        "split only); each trial is a run directory",
        epilog="--space NAME=LOW:HIGH[:log] or NAME=A,B,C adds or replaces "
        "a searched dimension (a config field or hyper-parameter); by "
        "default every declared hyper-parameter of the model, "
        "learning_rate and batch_size are searched. --set fixes a value.",
    )
    add_arguments(tune)
    tune.add_argument("--max-trials", type=int, default=10)
    tune.add_argument("--search", choices=("random", "bayesian",
                                           "hyperband"), default="random")
    tune.add_argument("--time-budget", type=float, metavar="SECONDS",
                      help="start no new trial after this many seconds")
    tune.add_argument("--space", action="append", default=[],
                      metavar="NAME=RANGE")
    tune.add_argument("--set", action="append", default=[],
                      metavar="KEY=VALUE", dest="assignments")

    predict = commands.add_parser(
        "predict", help="classify texts with an exported model"
    )
    predict.add_argument("path", metavar="PATH",
                         help="export folder, or a run directory with one")
    predict.add_argument("texts", metavar="TEXT", nargs="*")
    predict.add_argument("--input", metavar="FILE",
                         help="text file (one per line) or CSV")
    predict.add_argument("--text-column", default="text")

    vectors = commands.add_parser(
        "vectors", help="train word vectors (gensim) for --set "
        "embeddings=FILE")
    vectors.add_argument("--data", action="append", required=True,
                         metavar="SOURCE", dest="sources",
                         help="a dataset source (its training split only), "
                         "a CSV/TSV/JSONL with a text column and no labels, "
                         "or a .txt with one text per line; repeatable")
    vectors.add_argument("--out", required=True, metavar="FILE",
                         help="word2vec text file to write")
    vectors.add_argument("--method", choices=("word2vec", "fasttext"),
                         default="word2vec")
    vectors.add_argument("--dim", type=int, default=100,
                         help="vector size (default 100)")
    vectors.add_argument("--epochs", type=int, default=5,
                         help="passes over the corpus (default 5)")
    vectors.add_argument("--min-count", type=int, default=2,
                         help="ignore rarer words (default 2)")
    vectors.add_argument("--seed", type=int, default=0)
    return parser


def _train(args):
    from kerasseq import training
    from kerasseq.reporting import format_text_report

    given = config_values(args)
    if args.recipe is not None:
        return _train_recipe(args, given)
    values = {}
    if args.config_file is not None:
        from kerasseq.files import read_json

        values = read_json(args.config_file, "config file")
        values = values.get("config", values) if isinstance(
            values, dict) else values
        if not isinstance(values, dict):
            raise ConfigError(
                f"--config {args.config_file} must hold a JSON object of "
                "config fields"
            )
    values = training.apply_overrides({**values, **given}, args.assignments)
    config = training.TrainConfig.from_dict(values)
    result = training.train(config, verbose=0 if args.quiet else 1)
    print(format_text_report(result.metrics))
    if result.run_dir is None:
        print("run directory: written by the chief worker")
    else:
        print(f"run directory: {result.run_dir}")
    return 0


def _train_recipe(args, given):
    from kerasseq import recipes

    if args.config_file is not None:
        raise ConfigError("give either --recipe or --config, not both")
    named = {key: given.pop(key, None)
             for key in ("data", "out", "epochs", "overwrite")}
    assignments = [f"{key}={value}" for key, value in given.items()]
    return recipes.train_command(
        args.recipe, data=named["data"], out=named["out"],
        epochs=named["epochs"], overwrite=bool(named["overwrite"]),
        assignments=[*assignments, *args.assignments],
        export_dir=args.export_dir,
    )


def _evaluate(args):
    from kerasseq import training
    from kerasseq.reporting import format_text_report

    options = training.apply_overrides({}, args.assignments)
    unexpected = sorted(set(options) - {"hparams", "data_options"})
    if unexpected or options["hparams"]:
        raise ConfigError(
            "evaluate accepts only --set data_options.NAME=VALUE"
        )
    metrics = training.evaluate(
        args.run_dir, args.data, out=args.out,
        data_options=options["data_options"],
    )
    print(format_text_report(metrics))
    print(f"report: {args.out or f'{args.run_dir}/eval'}")
    return 0


def _models(args):
    import json

    from kerasseq import models

    descriptions = models.describe()
    width = max(map(len, descriptions))
    for name, description in descriptions.items():
        print(f"{name.ljust(width)}  {description}")
        if args.verbose:
            print(f"{'':{width}}  defaults: "
                  f"{json.dumps(models.default_hparams(name))}")
    return 0


def _recipes(args):
    from kerasseq import recipes

    return recipes.recipes_command()


def _lr_find(args):
    from kerasseq import lr_finder, training

    values = training.apply_overrides(config_values(args), args.assignments)
    result = lr_finder.lr_find(
        values, out=values.pop("out", None), start_lr=args.start_lr,
        end_lr=args.end_lr, steps=args.steps, method=args.method,
    )
    print(f"suggested learning rate: {result.suggestion:.3g} "
          f"({result.method}); plot: {result.out}/lr_find.png")
    print(f"use it with: kerasseq train ... --learning-rate "
          f"{result.suggestion:.3g}")
    return 0


def _compare(args):
    from kerasseq import training
    from kerasseq.compare import compare, markdown_table
    from kerasseq.config import TrainConfig

    fields = TrainConfig.field_names()
    assignments = []
    for assignment in args.assignments:
        key = assignment.partition("=")[0].strip()
        bare = key not in fields and "." not in key
        assignments.append(f"hparams.{assignment.strip()}" if bare
                           else assignment)
    values = training.apply_overrides({}, assignments)
    result = compare(
        args.models, args.data, epochs=args.epochs, out=args.out,
        overwrite=args.overwrite, **values,
    )
    print(markdown_table(result.rows))
    print(f"comparison: {result.out}")
    return 0


def _export(args):
    from kerasseq import portable

    out = args.out or portable.default_out(args.run_dir, args.format,
                                           args.quantize)
    path = portable.export_portable(
        args.run_dir, out, format=args.format, quantize=args.quantize,
        overwrite=args.overwrite,
    )
    print(f"exported to {path}")
    print(f"try it: python {Path(path) / 'predict_example.py'} "
          '"some text"')
    return 0


def _tune(args):
    from kerasseq import tuning
    from kerasseq.training import apply_overrides

    values = apply_overrides(config_values(args), args.assignments)
    out = values.pop("out", None) or f"runs/tune/{values.get('model')}"
    result = tuning.tune(
        values, out=out, max_trials=args.max_trials, search=args.search,
        space=args.space, time_budget=args.time_budget,
        overwrite=bool(values.pop("overwrite", False)),
    )
    print((Path(result.out) / "leaderboard.md").read_text(encoding="utf-8"))
    if result.best_config is None:
        print("warning: no trial finished; nothing to rerun",
              file=sys.stderr)
    else:
        print(f"best validation accuracy {result.best_score:.4f} (trial "
              f"{result.best_trial_id}); rerun it with: kerasseq train "
              f"--config {Path(result.out) / 'best_config.json'}")
    return 0


def _predict(args):
    from kerasseq.predict_command import predict_command

    return predict_command(
        args.path, texts=args.texts, input_file=args.input,
        text_column=args.text_column, out=sys.stdout,
    )


def _vectors(args):
    from kerasseq.vectors import vectors_command

    vectors_command(args.sources, args.out, method=args.method,
                    dim=args.dim, epochs=args.epochs,
                    min_count=args.min_count, seed=args.seed)
    return 0

def _one_line_warnings(show):
    """`warnings.showwarning` printing kerasseq warnings as one
    ``warning: ...`` line on stderr, others with `show`."""

    def show_warning(message, category, *args, **kwargs):
        if issubclass(category, KerasSeqWarning):
            text = " ".join(str(message).split())
            print(f"warning: {text}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return show_warning


def main(argv=None):
    """Runs the ``kerasseq`` command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    handler = {"train": _train, "evaluate": _evaluate, "models": _models,
               "recipes": _recipes, "predict": _predict,
               "lr-find": _lr_find, "compare": _compare,
               "tune": _tune, "export": _export,
               "vectors": _vectors}[args.command]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", KerasSeqWarning)
            warnings.showwarning = _one_line_warnings(warnings.showwarning)
            return handler(args)
    except KerasSeqError as error:
        message = command_line_wording(" ".join(str(error).split()))
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupted:
        print(command_line_wording(str(interrupted)) or "interrupted",
              file=sys.stderr)
        return EXIT_INTERRUPTED
