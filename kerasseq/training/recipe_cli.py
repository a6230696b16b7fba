"""The command line shared by the recipe scripts in ``recipes/``."""

import argparse
from pathlib import Path

from kerasseq.config import TrainConfig, apply_overrides
from kerasseq.errors import ConfigError
from kerasseq.files import data_dir
from kerasseq.training.fitting import TrainingInterrupted


def recipe_config(name, defaults, *, data_file=None, description=None,
                  argv=None):
    """Command line of a recipe: returns ``(TrainConfig, export_dir)``.

    Options: ``--data PATH`` (default: `data_file` under
    ``$KERASSEQ_DATA_DIR``, else ``../shared/datasets`` next to the
    repository), ``--epochs N``, ``--out DIR`` (default ``runs/<name>``),
    ``--export-dir DIR`` (default ``saved_models/<name>``),
    ``--overwrite`` and ``--set key=value`` (config field or model
    hyper-parameter) on top of `defaults`.

    Raises:
        ConfigError: no ``--data`` and the default file does not exist,
            or a bad override.
    """
    parser = argparse.ArgumentParser(
        prog=f"{name}.py", description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", help="dataset source (file, tfds:, ...)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--out", default=str(Path("runs") / name))
    parser.add_argument("--export-dir",
                        default=str(Path("saved_models") / name))
    parser.add_argument("--overwrite", action="store_true", default=None)
    parser.add_argument("--set", action="append", default=[],
                        metavar="KEY=VALUE", dest="assignments")
    args = parser.parse_args(argv)
    values = {**defaults, "out": args.out}
    if args.data:
        values["data"] = args.data
    elif data_file:
        path = data_dir() / data_file
        if not path.is_file():
            raise ConfigError(
                f"{data_file} not found in {path.parent}; pass --data PATH "
                "or set KERASSEQ_DATA_DIR"
            )
        values["data"] = str(path)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    if args.overwrite:
        values["overwrite"] = True
    values = apply_overrides(values, args.assignments)
    return TrainConfig.from_dict(values), Path(args.export_dir)


def finish_recipe(result, export_dir, examples):
    """The last steps every recipe shares, after `train`.

    Prints the test-set report (classification report + confusion
    matrix), exports a raw-string model into `export_dir` (replacing the
    recipe's own earlier export) and classifies `examples` with it, as a
    serving system would.
    """
    from kerasseq import exporter
    from kerasseq.reporting import format_text_report

    print(format_text_report(result.metrics))
    print(f"run directory: {result.run_dir}")
    exporter.export(
        result.model, result.tokenizer, result.class_names, export_dir,
        maxlen=result.config.maxlen, overwrite=True,
    )
    print(f"exported to {export_dir}")
    for row in exporter.predict(export_dir, examples):
        confidence = row["probabilities"][row["label"]]
        print(f"{row['label']:>8} {confidence:.2f}  {row['text']}")


def run_recipe(main):
    """Runs a recipe's ``main()``; user errors exit 2 with one line."""
    import sys

    from kerasseq.errors import KerasSeqError

    try:
        main()
    except KerasSeqError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except TrainingInterrupted as interrupted:
        print(interrupted, file=sys.stderr)
        sys.exit(130)
