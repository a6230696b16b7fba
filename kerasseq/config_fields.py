"""How a declared config field works: its metadata, the coercion of
command-line strings, validation, the command-line options, the Markdown
table of the docs and the command-line wording of error messages.

`kerasseq.config.TrainConfig` declares its fields with `field`; every
function here reads those declarations, so a new field needs nothing
else.
"""

import argparse
import ast
import dataclasses
import math
import os
import re
import shlex
import sys
import types
import typing

from kerasseq import values
from kerasseq.errors import ConfigError
from kerasseq.values import NONE_WORDS


def field(default, description, **metadata):
    """A dataclass field with its help text and checks in metadata.

    Metadata keys: ``help`` (`description`); ``min`` and ``max``
    (integers, inclusive); ``above`` and ``below`` (floats, exclusive bounds);
    ``choices``; ``free_text`` (strings kept as given, e.g. paths);
    ``path`` (`os.PathLike` allowed); ``schedule`` (a float that may
    also be a Keras ``LearningRateSchedule``, from Python); ``by_class``
    (a string of `choices` that may also be a dict of class name or
    index -> weight); ``flag`` (the command-line option, default
    ``--name-with-dashes``; ``None``: set through ``--set`` only);
    ``metavar``.
    """
    metadata = {"help": description, **metadata}
    if isinstance(default, (dict, list)):
        return dataclasses.field(default_factory=lambda: type(default)(),
                                 metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# -------------------------------------------------------------- coercion


def _kind(annotation):
    """``(base, optional)`` of a field type: ``int | None`` -> (int, True);
    ``list[str]`` -> (list, False)."""
    if isinstance(annotation, types.UnionType) or (
            typing.get_origin(annotation) is typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _kind(args[0])[0], True
    return typing.get_origin(annotation) or annotation, False


def coerce(value, kind=None, optional=True):
    """Turns a command-line string into a value of type `kind`.

    `kind` is ``int``, ``float``, ``bool``, ``str``, ``list`` (comma
    separated) or ``None`` (guess: int, float, true/false, none, else the
    string). With `optional`, the words of `NONE_WORDS` become ``None``.
    Parsing follows `kerasseq.values.coerce`; non-strings, and strings that
    do not parse, are returned unchanged (validation then names the
    problem).
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    lowered = text.lower()
    if optional and lowered in NONE_WORDS and (kind is not None or text):
        return None
    if kind is list:
        return [part.strip() for part in text.split(",") if part.strip()]
    if kind is str:
        return lowered
    for guess in (int, float, bool) if kind is None else (kind,):
        try:
            return values.coerce(text, guess)
        except ValueError:
            pass
    return value


def coerce_field(field, value):
    """`coerce` for a `TrainConfig` field (free-text strings kept as
    given, choices lower-cased, a serialized schedule deserialized)."""
    if field.metadata.get("free_text"):
        return value
    if field.metadata.get("schedule") and isinstance(value, dict):
        return _deserialize_schedule(field, value)
    kind, optional = _kind(field.type)
    return coerce(value, kind, optional)


def _deserialize_schedule(field, value):
    import keras

    try:
        schedule = keras.optimizers.schedules.deserialize(value)
    except (TypeError, ValueError, KeyError) as error:
        raise ConfigError(
            f"config {field.name!r} holds a dict that is not a serialized "
            f"keras.optimizers.schedules schedule ({error})"
        ) from None
    if not is_schedule(schedule):
        raise ConfigError(
            f"config {field.name!r} holds a dict that is not a serialized "
            f"keras.optimizers.schedules schedule; got {value!r}"
        )
    return schedule


# ------------------------------------------------------------ validation


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_schedule(value):
    """Whether `value` is a Keras ``LearningRateSchedule`` (only possible
    once Keras is imported, so the config itself never imports it)."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(
        value, keras.optimizers.schedules.LearningRateSchedule)


def _is_class_weights(value):
    """A dict of class name (str) or index (int >= 0) -> finite weight
    >= 0."""
    return isinstance(value, dict) and bool(value) and all(
        (isinstance(key, str) and key or _is_int(key) and key >= 0)
        and _is_number(weight) and math.isfinite(weight) and weight >= 0
        for key, weight in value.items())


def _expected(field):
    """What `field` accepts, in words."""
    meta = field.metadata
    kind, optional = _kind(field.type)
    if "choices" in meta:
        text = "one of: " + ", ".join(str(c).lower()
                                     for c in meta["choices"])
        if meta.get("by_class"):
            text += ("; or a dict of class name or index -> weight (a "
                     "finite number >= 0)")
        return text
    if kind is str:
        text = "a directory path" if meta.get("path") else (
            "a non-empty string")
    elif kind is int:
        text = f"an integer >= {meta.get('min', 0)}" + (
            f" and <= {meta['max']}" if "max" in meta else "")
    elif kind is float:
        low, high = meta.get("above"), meta.get("below")
        text = "a finite number" + (
            f" between {low} and {high} (exclusive)" if low is not None
            and high is not None else f" > {low}" if low is not None
            else f" < {high}" if high is not None else "")
        if meta.get("schedule"):
            text += (" (from Python also a keras.optimizers.schedules."
                     "LearningRateSchedule)")
    elif kind is bool:
        return "true, false or none" if optional else "true or false"
    elif kind is list:
        text = "a non-empty list of names"
    else:
        return "a dict with string keys"
    return f"{text} or none" if optional and not meta.get("path") else text


def _is_valid(field, value):
    meta = field.metadata
    kind, optional = _kind(field.type)
    if "choices" in meta:
        return value in meta["choices"] or (
            meta.get("by_class", False) and _is_class_weights(value))
    if meta.get("schedule") and is_schedule(value):
        return True
    if value is None:
        return optional
    if kind is str:
        allowed = (str, os.PathLike) if meta.get("path") else str
        return isinstance(value, allowed) and bool(str(value))
    if kind is int:
        return (_is_int(value) and value >= meta.get("min", 0)
                and value <= meta.get("max", value))
    if kind is float:
        low, high = meta.get("above"), meta.get("below")
        return (_is_number(value) and math.isfinite(value)
                and (low is None or value > low)
                and (high is None or value < high))
    if kind is bool:
        return isinstance(value, bool)
    if kind is list:
        return isinstance(value, list) and bool(value) and all(
            isinstance(item, str) and item for item in value)
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


def check(field, value):
    """Raises a `ConfigError` naming `field` unless `value` fits it."""
    if not _is_valid(field, value):
        raise ConfigError(
            f"config {field.name!r} must be {_expected(field)}; got "
            f"{value!r}"
        )


# ------------------------------------------------------ derived interfaces


def _flag(field):
    return field.metadata.get("flag", "--" + field.name.replace("_", "-"))


def add_arguments(parser):
    """Adds one option per `TrainConfig` field to `parser` (argparse).

    Booleans that default to false are ``store_true`` flags, those that
    default to true also get ``--no-NAME``; the other options take a
    string that `TrainConfig.from_dict` coerces and checks. Options left
    out are absent from the parsed namespace (`config_values`).
    """
    from kerasseq.config import TrainConfig

    for field in dataclasses.fields(TrainConfig):
        flag = _flag(field)
        if flag is None:
            continue
        kind, optional = _kind(field.type)
        options = {"dest": field.name, "default": argparse.SUPPRESS,
                   "help": _help(field)}
        if kind is bool and not optional:
            options["action"] = ("store_true" if field.default is False
                                 else argparse.BooleanOptionalAction)
        else:
            options["metavar"] = field.metadata.get(
                "metavar", field.name.upper())
        parser.add_argument(flag, **options)


def config_values(namespace):
    """The `TrainConfig` fields set in an argparse namespace."""
    from kerasseq.config import TrainConfig

    names = TrainConfig.field_names()
    return {key: value for key, value in vars(namespace).items()
            if key in names}


def _help(field):
    meta = field.metadata
    text = meta["help"]
    if not meta.get("free_text") and (
            "choices" in meta or _kind(field.type)[0] is not bool):
        text += f"; {_expected(field)}"
    default = field.default
    if default is not dataclasses.MISSING and not isinstance(default, bool):
        text += f" (default {str(default).lower()})"
    return text.replace("%", "%%")


# A Python argument in a message: NAME=VALUE, VALUE a literal, a dict of
# literals or an upper-case placeholder (e.g. out=DIR).
_ARGUMENT = re.compile(
    r"(?<![\w.-])(?P<name>[a-z_]+)=(?P<value>'[^']*'|\"[^\"]*\"|"
    r"\{[^{}]*\}|[^\s,;(){}]+)"
)
# Phrases of messages that name the Python call, as the command says them.
_COMMAND_PHRASES = {
    "call train again with the same config": "rerun the same command",
    "unknown override key": "unknown --set key",
    "an override must be key=value": "--set expects key=value",
}


def _option(field, value):
    """The command-line spelling of ``field=value`` (`value` the Python
    text of the message)."""
    flag = _flag(field)
    try:
        literal = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        literal = value  # a placeholder such as DIR
    if flag is None:
        if not isinstance(literal, dict):
            return f"--set {field.name}={value}"
        prefix = "" if field.name == "hparams" else f"{field.name}."
        return " ".join(f"--set {prefix}{key}={_word(item)}"
                        for key, item in literal.items())
    kind, optional = _kind(field.type)
    if kind is bool and not optional:
        if literal is True:
            return flag
        if field.default is True:
            return "--no-" + flag[2:]
        return f"--set {field.name}=false"
    return f"{flag} {_word(literal)}"


def _word(value):
    """A value as typed on the command line."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    return shlex.quote(str(value))


def command_line_wording(message):
    """`message` (written for Python callers) as the command line says it.

    Config fields given as Python arguments become their options
    (``overwrite=True`` -> ``--overwrite``, ``out=DIR`` -> ``--out DIR``,
    ``bucketing=False`` -> ``--no-bucketing``, ``hparams={'units': 8}``
    -> ``--set units=8``), and the phrases of `_COMMAND_PHRASES` their
    command-line counterparts.
    """
    from kerasseq.config import TrainConfig

    fields = {field.name: field for field in dataclasses.fields(TrainConfig)}

    def replace(match):
        field = fields.get(match["name"])
        # An assignment after an option (``--set epochs=N``) or quoted
        # (the user's own ``--space 'learning_rate=...'``) stays.
        before = message[:match.start()]
        after_option = re.search(r"--[\w-]+\s+$", before)
        if field is None or after_option or before.endswith(("'", '"')):
            return match[0]
        return _option(field, match["value"])

    for python, command in _COMMAND_PHRASES.items():
        message = message.replace(python, command)
    return _ARGUMENT.sub(replace, message)


def config_table():
    """The `TrainConfig` fields as a Markdown table (for the docs)."""
    from kerasseq.config import TrainConfig

    rows = ["| field | option | type | default | allowed | description |",
            "|---|---|---|---|---|---|"]
    for field in dataclasses.fields(TrainConfig):
        if field.default_factory is not dataclasses.MISSING:
            default = repr(field.default_factory())
        else:
            default = str(field.default).lower()
        flag = _flag(field) or f"--set {field.name}.NAME=VALUE"
        kind = str(field.type).replace("typing.", "")
        if isinstance(field.type, type):
            kind = field.type.__name__
        cells = [f"`{field.name}`", f"`{flag}`", f"`{kind}`",
                 f"`{default}`", _expected(field),
                 field.metadata["help"]]
        rows.append("| " + " | ".join(
            cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


