"""`TrainConfig`: every setting of a training run, declared once.

Each field carries its help text and its range or choices in
``dataclasses.field(metadata=...)``; its type is its annotation. From
that one declaration come the coercion of command-line strings
(`coerce`), validation, the ``kerasseq train`` options
(`add_arguments`) and the Markdown table of the docs (`config_table`).
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
from pathlib import Path

from kerasseq import values
from kerasseq.errors import ConfigError
from kerasseq.values import NONE_WORDS


def _field(default, description, **metadata):
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


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines one training run (`config_table` lists the
    fields with their help text, type, default and allowed values)."""

    model: str = _field(
        "bilstm_bahdanau", "registered model name (`kerasseq models` lists "
        "them)", free_text=True, metavar="NAME")
    data: str = _field(
        "builtin:synthetic_sentiment", "dataset source for "
        "`kerasseq.load_dataset`: a CSV/TSV/JSONL file, a folder, "
        "tfds:NAME, sklearn:20newsgroups or builtin:synthetic_sentiment",
        free_text=True, metavar="SOURCE")
    out: str | None = _field(
        None, "run directory; none means runs/MODEL", free_text=True,
        path=True, metavar="DIR")
    epochs: int = _field(
        10, "maximum number of epochs (early stopping may end sooner)",
        min=1, metavar="N")
    batch_size: int = _field(
        32, "global batch size (split across replicas)", min=1,
        metavar="B")
    maxlen: int | None = _field(
        None, "sequence length in tokens; none takes the tokenizer's "
        "choice (95th percentile of training lengths, capped)", min=1,
        metavar="L")
    max_tokens: int | None = _field(
        20000, "ids kept by the tokenizer, padding and OOV included; none "
        "keeps every training word", min=3, metavar="V")
    mask_digits: bool = _field(
        False, "the tokenizer maps every digit to 0 (phone numbers and "
        "prices share tokens)")
    split_symbols: bool = _field(
        False, "the tokenizer makes punctuation, symbols and emoji tokens "
        "of their own")
    seed: int = _field(
        0, "seeds Python, NumPy and the backend, the validation split and "
        "the shuffling; always applied", min=0, max=2**32 - 1,
        metavar="S")
    validation_fraction: float = _field(
        0.1, "share of the training split held out (stratified) for early "
        "stopping", above=0, below=1, metavar="F")
    learning_rate: float = _field(
        1e-3, "the optimizer's (initial) learning rate; from Python also any "
        "keras.optimizers.schedules.LearningRateSchedule (config.json "
        "keeps its serialized dict)", above=0, schedule=True,
        metavar="LR")
    lr_schedule: str | None = _field(
        None, "none (constant), cosine (CosineDecay over all steps), "
        "linear (to 0 over all steps), exponential (to 1/100 over all "
        "steps) or plateau (halve on a val_loss plateau)",
        choices=(None, "cosine", "linear", "exponential", "plateau"))
    optimizer: str = _field(
        "adam", "Keras optimizer: adam, adamw (decoupled weight decay), sgd "
        "or rmsprop", choices=("adam", "adamw", "sgd", "rmsprop"))
    weight_decay: float | None = _field(
        None, "decoupled weight decay of the optimizer; none: Keras' default "
        "(0.004 for adamw, off for the others)", above=0, metavar="WD")
    momentum: float | None = _field(
        None, "momentum of sgd or rmsprop; none: Keras' default (0)",
        above=0, below=1, metavar="M")
    nesterov: bool = _field(False, "sgd uses Nesterov momentum")
    clipnorm: float | None = _field(
        None, "clip each variable's gradient to this norm", above=0,
        metavar="N")
    global_clipnorm: float | None = _field(
        None, "clip the gradients to this global norm (not with clipnorm)",
        above=0, metavar="N")
    clipvalue: float | None = _field(
        None, "clip each gradient value to [-V, V]", above=0, metavar="V")
    warmup_steps: int | None = _field(
        None, "linear learning-rate warm-up from 0 over this many steps, "
        "then lr_schedule (not with plateau)", min=1, metavar="N")
    warmup_fraction: float | None = _field(
        None, "warm-up over this share of all steps (not with "
        "warmup_steps)", above=0, below=1, metavar="F")
    label_smoothing: float | None = _field(
        None, "label smoothing of the cross-entropy: targets (1 - s) * "
        "one_hot + s / classes", above=0, below=1, metavar="S")
    freeze_epochs: int | None = _field(
        None, "gradual unfreezing: the token embedding stays frozen for "
        "the first N epochs (without early stopping), then all layers "
        "train; fewer than epochs", min=1, metavar="N")
    embedding_lr_multiplier: float | None = _field(
        None, "discriminative fine-tuning: the token embedding learns at "
        "this multiple of the learning rate", above=0, metavar="M")
    class_weight: str | dict | None = _field(
        None, "none, balanced (scikit-learn weights) or, from Python or a "
        "JSON config, a dict of class name (or index) -> weight; classes "
        "left out weigh 1", choices=(None, "balanced"), by_class=True)
    patience: int | None = _field(
        2, "epochs without val_loss improvement before early stopping "
        "restores the best weights; none disables it", min=0, metavar="P")
    refit: bool = _field(
        False, "after the validated fit, train a fresh model (and "
        "tokenizer) on the whole training split for the epochs validation "
        "chose, and report and save that one; about twice as long; not "
        "with multiworker")
    bucketing: bool = _field(
        True, "batch sequences of similar length: each window of 32 "
        "shuffled batches is sorted by length, padded to a multiple of 8")
    mixed_precision: bool = _field(
        False, "train with the mixed_float16 policy")
    jit_compile: bool | None = _field(
        None, "XLA-compile the train step: true, false or none (Keras' "
        "auto: on with a GPU when every layer supports XLA)",
        metavar="BOOL")
    strategy: str = _field(
        "auto", "auto (MirroredStrategy with more than one GPU, else the "
        "default), none, mirrored or multiworker (from TF_CONFIG; a custom "
        "training loop; only the chief writes out; no resume)",
        choices=("auto", "none", "mirrored", "multiworker"))
    devices: list[str] | None = _field(
        None, "comma-separated device names for mirrored (none: all GPUs)",
        metavar="D1,D2")
    deterministic: bool = _field(
        False, "also enable TensorFlow op determinism (slower; "
        "process-wide)")
    overwrite: bool = _field(False, "replace an existing run in out")
    export: bool = _field(
        True, "write a raw-string SavedModel into out/saved_model")
    tensorboard: bool = _field(
        False, "write TensorBoard logs (loss, metrics, learning rate, the "
        "model graph) into out/tensorboard")
    embeddings: str | None = _field(
        None, "word vectors that initialise the token embedding: GloVe "
        "text, word2vec text or binary, fastText .vec or .bin (none: "
        "random); embedding_dim follows the file unless set",
        free_text=True, path=True, metavar="FILE")
    embeddings_trainable: bool = _field(
        True, "fine-tune the loaded word vectors (false: frozen)")
    multi_label: bool = _field(
        False, "each example has a set of labels (joined by "
        "data_options.label_separator, default |): sigmoid head, binary "
        "cross-entropy, a decision threshold chosen on validation")
    threshold_mode: str = _field(
        "global", "multi-label decision threshold: global (one, maximizing "
        "validation micro-F1) or per_label (one per label, each maximizing "
        "its validation F1)", choices=("global", "per_label"))
    data_options: dict = _field(
        {}, "keyword arguments for `kerasseq.load_dataset` (--set "
        "data_options.NAME=VALUE)", flag=None)
    hparams: dict = _field(
        {}, "model hyper-parameters (--set NAME=VALUE; `kerasseq models "
        "--verbose` lists them)", flag=None)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            check(field, getattr(self, field.name))
        if self.refit and self.strategy == "multiworker":
            raise ConfigError(
                "refit is not supported with strategy 'multiworker'; use "
                "another strategy or refit=False"
            )
        if is_schedule(self.learning_rate) and self.lr_schedule:
            raise ConfigError(
                f"learning_rate is a schedule, so lr_schedule must be "
                f"none; got {self.lr_schedule!r}"
            )
        self._check_training_controls()
        if self.multi_label and self.class_weight is not None:
            raise ConfigError(
                "class_weight is not supported with multi_label (Keras "
                "class weights are per class id); drop one of them"
            )
        if self.multi_label and self.strategy == "multiworker":
            raise ConfigError(
                "multi_label is not supported with strategy 'multiworker' "
                "(its training loop counts single-label accuracy); use "
                "another strategy"
            )
        if self.out is None:
            self.out = str(Path("runs") / self.model)

    def dataset_options(self):
        """`kerasseq.load_dataset` options: ``data_options``, plus
        ``multi_label=True`` for a multi-label run."""
        if self.multi_label:
            return {**self.data_options, "multi_label": True}
        return dict(self.data_options)

    def _check_training_controls(self):
        pairs = (("clipnorm", "global_clipnorm"),
                 ("warmup_steps", "warmup_fraction"))
        for first, second in pairs:
            if getattr(self, first) is not None and getattr(
                    self, second) is not None:
                raise ConfigError(
                    f"{first} and {second} exclude each other; set one of "
                    f"them to none"
                )
        if self.nesterov and self.optimizer != "sgd":
            raise ConfigError(
                f"nesterov needs optimizer='sgd'; got optimizer="
                f"{self.optimizer!r}"
            )
        if self.momentum is not None and self.optimizer not in (
                "sgd", "rmsprop"):
            raise ConfigError(
                f"momentum needs optimizer='sgd' or 'rmsprop'; got "
                f"optimizer={self.optimizer!r}"
            )
        if self.freeze_epochs is not None and (
                self.freeze_epochs >= self.epochs
                or self.strategy == "multiworker"):
            raise ConfigError(
                f"freeze_epochs must be below epochs={self.epochs} and "
                f"needs a strategy other than 'multiworker'; got "
                f"freeze_epochs={self.freeze_epochs}"
            )
        warmup = self.warmup_steps or self.warmup_fraction
        if warmup and (self.lr_schedule == "plateau"
                       or is_schedule(self.learning_rate)):
            raise ConfigError(
                "warm-up needs lr_schedule none, cosine, linear or "
                "exponential and a numeric learning_rate; set "
                "warmup_steps=None and warmup_fraction=None or choose "
                "another lr_schedule"
            )

    @classmethod
    def field_names(cls):
        """Names of every config field, in declaration order."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict, coercing strings (CLI values).

        `values` is a dict of fields, or a run's ``config.json`` record
        (whose ``"config"`` entry holds the fields).

        Raises:
            ConfigError: unknown key (the message lists the valid ones),
                wrong type or value out of range.
        """
        if not isinstance(values, dict):
            raise ConfigError(
                f"Expected a dict of config values. Received "
                f"{type(values).__name__}."
            )
        if isinstance(values.get("config"), dict):
            values = values["config"]
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(
                f"unknown config key {unknown[0]!r}; valid keys: "
                f"{', '.join(fields)}"
            )
        return cls(**{name: coerce_field(fields[name], value)
                      for name, value in values.items()})

    def to_dict(self):
        """JSON-ready dict that `from_dict` turns back into this config (a
        schedule as ``keras.optimizers.schedules.serialize`` writes it)."""
        values = dataclasses.asdict(self)
        if is_schedule(self.learning_rate):
            import keras

            values["learning_rate"] = keras.optimizers.schedules.serialize(
                self.learning_rate)
        return values


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


def apply_overrides(config, assignments):
    """Applies ``key=value`` strings to a config dict (returns a new dict).

    A key is a `TrainConfig` field, ``data_options.NAME``, ``hparams.NAME``
    or a hyper-parameter of the chosen model (bare name). Field values stay
    strings (`TrainConfig.from_dict` coerces them by type); other values
    are guessed by `coerce`.

    Raises:
        ConfigError: malformed assignment or unknown key (the message
            lists the valid keys).
    """
    from kerasseq import models

    config = {
        **config,
        "hparams": dict(config.get("hparams") or {}),
        "data_options": dict(config.get("data_options") or {}),
    }
    fields = TrainConfig.field_names()
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"an override must be key=value; got {assignment!r}"
            )
        group, dot, sub = key.partition(".")
        model = config.get("model", TrainConfig.model)
        if dot and group in ("hparams", "data_options") and sub:
            config[group][sub] = coerce(text)
        elif key in fields:
            config[key] = text
        elif key in models.default_hparams(model):
            config["hparams"][key] = coerce(text)
        else:
            hparams = sorted(models.default_hparams(model))
            raise ConfigError(
                f"unknown override key {key!r}; valid keys: config fields "
                f"{', '.join(fields)}; hyper-parameters of {model!r}: "
                f"{', '.join(hparams)}; or data_options.NAME"
            )
    return config
