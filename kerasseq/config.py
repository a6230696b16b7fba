"""`TrainConfig`: every setting of a training run, declared once.

Each field carries its help text and its range or choices in
``dataclasses.field(metadata=...)``; its type is its annotation. From
that one declaration, `kerasseq.config_fields` derives the coercion of
command-line strings (`coerce`), validation, the ``kerasseq train``
options (`add_arguments`) and the Markdown table of the docs
(`config_table`); they are importable from here too.
"""

import dataclasses
from pathlib import Path

from kerasseq.config_fields import (  # noqa: F401  (re-exported)
    add_arguments,
    check,
    coerce,
    coerce_field,
    command_line_wording,
    config_table,
    config_values,
    is_schedule,
)
from kerasseq.config_fields import field as _field
from kerasseq.errors import ConfigError


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
