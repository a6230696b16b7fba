"""Recipes: named training setups stored as TOML files.

Each ``NAME.toml`` beside this module is one recipe:

- ``description``: one line; ``about``: optional longer text.
- ``data_file``: optional dataset file in `kerasseq.files.data_dir`
  used when no data is given (else ``config.data`` or its default).
- ``examples``: sentences classified by the export after training.
- ``[measured]``: the latest numbers (``accuracy``, optional
  ``macro_f1``, ``test_texts``, ``epochs``, ``train_seconds``,
  ``wall_seconds``, ``machine``, ``note``) and the ``command`` that
  produced them.
- ``[config]``: `kerasseq.training.TrainConfig` fields (TOML has no
  null: write ``"none"``); ``[[members]]``: for an ensemble, the
  member dicts `kerasseq.ensemble.train_ensemble` takes.

`load` takes a recipe name or the path of such a file; `run` trains it,
prints the test report, exports the model into ``saved_models/NAME``
and classifies the examples with the export.
"""

import copy
import dataclasses
import sys
from pathlib import Path

from kerasseq.errors import ConfigError
from kerasseq.files import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

FOLDER = Path(__file__).resolve().parent
_REQUIRED = ("description", "config")
_OPTIONAL = ("about", "data_file", "examples", "measured", "members")
_MEASURED = ("command", "accuracy", "macro_f1", "test_texts", "epochs",
             "train_seconds", "wall_seconds", "machine", "note")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One recipe file, validated (see the module docstring)."""

    name: str
    path: Path
    description: str
    config: dict
    about: str = ""
    data_file: str | None = None
    examples: tuple = ()
    measured: dict | None = None
    members: tuple | None = None

    def resolve(self, data=None, overrides=(), out=None, epochs=None,
                overwrite=False):
        """The run's ``(TrainConfig, members or None)``.

        Args:
            data: dataset source; default: `data_file` in
                `kerasseq.files.data_dir`, else ``config.data``.
            overrides: ``key=value`` strings
                (`kerasseq.training.apply_overrides`).
            out: run directory; default ``runs/NAME``.
            epochs: replaces ``config.epochs`` (ensemble members keep
                their own ``epochs``).
            overwrite: replace an existing run (``False`` keeps the
                recipe's own setting).

        Raises:
            ConfigError: no `data` and `data_file` is missing, or a bad
                override.
        """
        from kerasseq import ensemble, training

        values = {**copy.deepcopy(self.config),
                  "out": str(out or Path("runs") / self.name)}
        if data:
            values["data"] = str(data)
        elif self.data_file:
            path = data_dir() / self.data_file
            if not path.is_file():
                raise ConfigError(
                    f"{self.data_file} (recipe {self.name!r}) not found in "
                    f"{path.parent}; pass a data path or set "
                    "KERASSEQ_DATA_DIR"
                )
            values["data"] = str(path)
        if epochs is not None:
            values["epochs"] = epochs
        if overwrite:
            values["overwrite"] = True
        values = training.apply_overrides(values, list(overrides))
        config = training.TrainConfig.from_dict(values)
        if self.members is None:
            return config, None
        members = copy.deepcopy(list(self.members))
        ensemble.member_configs(config, members)
        return config, members


def names():
    """Names of the recipes shipped with kerasseq, sorted."""
    return sorted(path.stem for path in FOLDER.glob("*.toml"))


def list_recipes():
    """``[(name, description)]`` of the shipped recipes."""
    return [(name, _read(FOLDER / f"{name}.toml")["description"])
            for name in names()]


def _path(name_or_path):
    if name_or_path in names():
        return FOLDER / f"{name_or_path}.toml"
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.parent != Path("."):
        if not path.is_file():
            raise ConfigError(f"recipe file {path} not found")
        return path
    raise ConfigError(
        f"unknown recipe {name_or_path!r}; known recipes: "
        f"{', '.join(names())}; or pass the path of a .toml recipe file"
    )


def _measured_ok(key, value):
    number = isinstance(value, (int, float)) and not isinstance(
        value, bool) and value >= 0
    if key in ("accuracy", "macro_f1"):
        return number and value <= 1
    if key == "epochs":  # a count, or e.g. "6 + refit 6"
        return number or isinstance(value, str)
    if key.endswith(("seconds", "texts")):
        return number
    return isinstance(value, str)


def _read(path):
    """The recipe file's TOML, top-level keys and types checked."""
    try:
        with open(path, "rb") as file:
            values = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read recipe {path}: {error}") from None

    def require(ok, key, expected):
        if not ok:
            raise ConfigError(
                f"recipe {path}: {key!r} must be {expected}; got "
                f"{values.get(key)!r}"
            )

    unknown = sorted(set(values) - set(_REQUIRED + _OPTIONAL))
    if unknown:
        raise ConfigError(
            f"recipe {path}: unknown key {unknown[0]!r}; valid keys: "
            f"{', '.join(_REQUIRED + _OPTIONAL)}"
        )
    for key in _REQUIRED:
        require(key in values, key, "set (required)")
    for key in ("description", "about", "data_file"):
        require(key not in values or (isinstance(values[key], str)
                                      and values[key].strip()),
                key, "a non-empty string")
    require(isinstance(values["config"], dict), "config", "a table")
    examples = values.get("examples", [])
    require(isinstance(examples, list) and all(
        isinstance(e, str) and e.strip() for e in examples),
        "examples", "a list of non-empty strings")
    measured = values.get("measured", {})
    require(isinstance(measured, dict) and isinstance(
        measured.get("command", ""), str), "measured",
        "a table with a 'command' string")
    unknown = sorted(set(measured) - set(_MEASURED))
    if unknown:
        raise ConfigError(
            f"recipe {path}: unknown key {unknown[0]!r} in [measured]; "
            f"valid keys: {', '.join(_MEASURED)}"
        )
    for key, value in measured.items():
        if not _measured_ok(key, value):
            raise ConfigError(
                f"recipe {path}: [measured] {key!r} has a bad value "
                f"{value!r} (fractions in [0, 1], counts and seconds >= 0, "
                "text otherwise)"
            )
    members = values.get("members")
    require(members is None or (isinstance(members, list) and all(
        isinstance(m, dict) for m in members)), "members",
        "a list of tables ([[members]])")
    return values


def _check_hparams(where, model, hparams):
    from kerasseq import models

    known = models.default_hparams(model)
    unknown = sorted(set(hparams) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown hyper-parameter {unknown[0]!r} in {where} (model "
            f"{model!r}); valid: {', '.join(sorted(known))}"
        )


def load(name_or_path):
    """The `Recipe` of a shipped name (`names`) or a ``.toml`` path.

    Raises:
        ConfigError: unknown name, missing or unreadable file, unknown
            key, bad value; the message names the file and the key.
    """
    path = _path(name_or_path)
    values = _read(path)
    recipe = Recipe(
        name=path.stem, path=path,
        description=values["description"].strip(),
        config=values["config"],
        about=values.get("about", "").strip(),
        data_file=values.get("data_file"),
        examples=tuple(values.get("examples", ())),
        measured=values.get("measured"),
        members=(tuple(values["members"]) if "members" in values
                 else None),
    )
    try:
        config, members = recipe.resolve(data="unused")
        for index, member in enumerate(members or [config.to_dict()]):
            _check_hparams(f"member {index}" if members else "config",
                           member["model"], member.get("hparams", {}))
    except ConfigError as error:
        raise ConfigError(f"recipe {path}: {error}") from None
    return recipe


def run(recipe, *, data=None, overrides=(), out=None, epochs=None,
        overwrite=False, export_dir=None, verbose=1):
    """Trains `recipe` (a `Recipe`, name or path) and returns its
    `kerasseq.training.RunResult`.

    Prints the test report (classification report + confusion matrix),
    exports a raw-string model into `export_dir` (default
    ``saved_models/NAME``, replacing an earlier export) and classifies
    the recipe's examples with it, as a serving system would. The other
    arguments are those of `Recipe.resolve`.
    """
    from kerasseq import ensemble, exporter, training
    from kerasseq.reporting import format_text_report

    if not isinstance(recipe, Recipe):
        recipe = load(recipe)
    config, members = recipe.resolve(data=data, overrides=overrides,
                                     out=out, epochs=epochs,
                                     overwrite=overwrite)
    if members:
        result = ensemble.train_ensemble(config, members, verbose=verbose)
    else:
        result = training.train(config, verbose=verbose)
    export_dir = Path(export_dir or Path("saved_models") / recipe.name)
    print(format_text_report(result.metrics))
    print(f"run directory: {result.run_dir}")
    exporter.export(
        result.model, result.tokenizer, result.class_names, export_dir,
        maxlen=result.config.maxlen, overwrite=True,
    )
    print(f"exported to {export_dir}")
    if recipe.examples:
        for row in exporter.predict(export_dir, list(recipe.examples)):
            confidence = row["probabilities"][row["label"]]
            print(f"{row['label']:>8} {confidence:.2f}  {row['text']}")
    return result


def format_measured(measured):
    """One line of a recipe's ``[measured]`` table, or ``""``."""
    if not measured:
        return ""
    parts = []
    if "accuracy" in measured:
        parts.append(f"test accuracy {100 * measured['accuracy']:.2f}%")
    if "macro_f1" in measured:
        parts.append(f"macro-F1 {100 * measured['macro_f1']:.2f}")
    if "epochs" in measured:
        parts.append(f"epochs {measured['epochs']}")
    for key, label in (("train_seconds", "train"), ("wall_seconds", "wall")):
        if key in measured:
            parts.append(f"{measured[key]:.0f} s {label}")
    text = ", ".join(parts)
    if "command" in measured:
        text += f" ({measured['command']})"
    return text


def recipes_command(file=None):
    """``kerasseq recipes``: name, description and measured numbers of
    every shipped recipe; returns the exit code (0)."""
    file = file or sys.stdout
    found = [(name, _read(FOLDER / f"{name}.toml")) for name in names()]
    width = max(len(name) for name, _ in found)
    for name, values in found:
        print(f"{name.ljust(width)}  {values['description']}", file=file)
        measured = format_measured(values.get("measured"))
        if measured:
            print(f"{'':{width}}  measured: {measured}", file=file)
    return 0


def train_command(recipe, *, data=None, out=None, epochs=None,
                  overwrite=False, assignments=(), export_dir=None):
    """``kerasseq train --recipe NAME_OR_PATH [--data] [--out] [--epochs]
    [--overwrite] [--set k=v ...]``: `run` with those values; returns
    the exit code (0). `KerasSeqError` and `KeyboardInterrupt` propagate
    to the caller (the CLI turns them into exit codes 2 and 130)."""
    run(recipe, data=data, overrides=assignments, out=out, epochs=epochs,
        overwrite=overwrite, export_dir=export_dir)
    return 0
