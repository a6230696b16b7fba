"""One training run: a `TrainConfig` in, a run directory out.

`train` checks everything a user can get wrong (config values, model
hyper-parameters, the data) before it creates the run directory, so bad
input leaves nothing behind. The run directory then holds::

    run.json            status ("running" / "finished"), start and end time
    config.json         the resolved config (rerun with TrainConfig.from_dict)
    training_log.csv    one row per finished epoch (kept across resumes)
    backup/             BackupAndRestore state while the run is unfinished
    metrics.json ...    the `kerasseq.reporting.write_report` files
    model.keras         the trained ids -> probabilities model
    tokenizer.json      the fitted `kerasseq.text.Tokenizer`
    environment.json    versions, device, strategy, mixed precision, cuDNN
    saved_model/        `kerasseq.exporter.export` (raw strings in)

A run interrupted before ``status: finished`` resumes from its last
finished epoch when `train` is called again with the same config and
``out``; except with ``strategy="multiworker"`` (no ``backup/``: start
over with ``overwrite``). There every worker runs the same `train` with
its own ``TF_CONFIG``, only the chief writes ``out``.
"""

import argparse
import contextlib
import csv
import dataclasses
import datetime
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from kerasseq.errors import ArtifactError, ConfigError, DataError
from kerasseq.files import data_dir, read_json, write_json

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
LOG_FILE = "training_log.csv"
BACKUP_DIR = "backup"
# Batches per window sorted by length when `bucketing` is on.
SORT_WINDOW = 32
_STRATEGIES = ("auto", "none", "mirrored", "multiworker")
_LR_SCHEDULES = (None, "cosine", "plateau")
_CLASS_WEIGHTS = (None, "balanced")
_NONE_WORDS = ("", "none", "null")
_TRUE_WORDS = ("1", "true", "yes", "on")
_FALSE_WORDS = ("0", "false", "no", "off")
# Fields whose value may differ when an unfinished run is resumed.
_RESUME_FREE = ("overwrite", "export")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines one training run.

    Attributes:
        model: registered model name (``kerasseq models`` lists them).
        data: dataset source for `kerasseq.load_dataset`: a CSV/TSV/JSONL
            file, a folder, ``tfds:NAME``, ``sklearn:20newsgroups`` or
            ``builtin:synthetic_sentiment``.
        out: run directory; ``None`` means ``runs/<model>``.
        epochs: maximum number of epochs (early stopping may end sooner).
        batch_size: global batch size (split across replicas).
        maxlen: sequence length in tokens; ``None`` takes the tokenizer's
            choice (95th percentile of training lengths, capped).
        max_tokens: ids kept by the tokenizer, padding and OOV included;
            ``None`` keeps every training word.
        mask_digits: the tokenizer maps every digit to 0 (phone numbers
            and prices share tokens).
        split_symbols: the tokenizer makes punctuation, symbols and emoji
            tokens of their own (``£``, ``!``, ``&``).
        seed: seeds Python, NumPy and the backend, the validation split
            and the shuffling; always applied.
        validation_fraction: share of the training split held out
            (stratified) for early stopping.
        learning_rate: Adam's (initial) learning rate.
        lr_schedule: ``None`` (constant), ``"cosine"`` (CosineDecay over
            all steps) or ``"plateau"`` (halve on a val_loss plateau).
        class_weight: ``None`` or ``"balanced"`` (scikit-learn weights).
        patience: epochs without val_loss improvement before early
            stopping restores the best weights; ``None`` disables it.
        refit: after the validated fit, train a fresh model on the whole
            training split (validation part included) for the number of
            epochs validation chose, and report and save that model. Its
            tokenizer is fitted again on the whole training split (same
            options), so words seen only in the validation part get ids.
            Takes about twice as long; not with ``"multiworker"``.
        bucketing: batch sequences of similar length (less padding):
            each window of 32 shuffled batches is sorted by length and
            cut into batches, padded to a multiple of 8 tokens.
        mixed_precision: train with the ``mixed_float16`` policy.
        jit_compile: XLA-compile the train step: ``True``, ``False`` or
            ``None`` (Keras' ``"auto"``: on with a GPU when every layer
            supports XLA, off on CPU-only machines).
        strategy: ``"auto"`` (MirroredStrategy with more than one GPU,
            else the default), ``"none"``, ``"mirrored"`` or
            ``"multiworker"`` (MultiWorkerMirroredStrategy from
            ``TF_CONFIG``; a custom training loop, since Keras 3's
            ``Model.fit`` fails under it; only the chief writes ``out``;
            no resume).
        devices: device names for ``"mirrored"`` (``None``: all GPUs).
        deterministic: also enable TensorFlow op determinism (slower;
            process-wide, TensorFlow cannot switch it off again).
        overwrite: replace an existing run in ``out``.
        export: write a raw-string SavedModel into ``out/saved_model``.
        data_options: keyword arguments for `kerasseq.load_dataset`.
        hparams: model hyper-parameters (``kerasseq models`` and
            `kerasseq.models.default_hparams` list them).
    """

    model: str = "bilstm_bahdanau"
    data: str = "builtin:synthetic_sentiment"
    out: str | None = None
    epochs: int = 10
    batch_size: int = 32
    maxlen: int | None = None
    max_tokens: int | None = 20000
    mask_digits: bool = False
    split_symbols: bool = False
    seed: int = 0
    validation_fraction: float = 0.1
    learning_rate: float = 1e-3
    lr_schedule: str | None = None
    class_weight: str | None = None
    patience: int | None = 2
    refit: bool = False
    bucketing: bool = True
    mixed_precision: bool = False
    jit_compile: bool | None = None
    strategy: str = "auto"
    devices: list[str] | None = None
    deterministic: bool = False
    overwrite: bool = False
    export: bool = True
    data_options: dict = dataclasses.field(default_factory=dict)
    hparams: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check_field(field.name, getattr(self, field.name))
        if self.refit and self.strategy == "multiworker":
            raise ConfigError(
                "refit is not supported with strategy 'multiworker'; use "
                "another strategy or refit=false"
            )
        if self.out is None:
            self.out = str(Path("runs") / self.model)

    @classmethod
    def field_names(cls):
        """Names of every config field, in declaration order."""
        return [field.name for field in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict, coercing strings (CLI values).

        Raises:
            ConfigError: unknown key (the message lists the valid ones),
                wrong type or value out of range.
        """
        if not isinstance(values, dict):
            raise ConfigError(
                f"Expected a dict of config values. Received "
                f"{type(values).__name__}."
            )
        valid = cls.field_names()
        unknown = sorted(set(values) - set(valid))
        if unknown:
            raise ConfigError(
                f"unknown config key {unknown[0]!r}; valid keys: "
                f"{', '.join(valid)}"
            )
        return cls(**{k: _coerce_field(k, v) for k, v in values.items()})

    def to_dict(self):
        """JSON-ready dict that `from_dict` turns back into this config."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the run directory and the trained objects.

    `config` is the resolved config (``maxlen`` and ``hparams`` filled in).
    """

    run_dir: Path
    metrics: dict
    model: object
    tokenizer: object
    class_names: list
    config: TrainConfig


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during `fit`; the backup of the last finished epoch is kept."""


# --------------------------------------------------------------- validation


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(ok, name, expected, value):
    if not ok:
        raise ConfigError(
            f"config {name!r} must be {expected}; got {value!r}"
        )


def _check_field(name, value):
    optional_ints = {"maxlen": 1, "max_tokens": 3, "patience": 0}
    ints = {"epochs": 1, "batch_size": 1, "seed": 0}
    choices = {
        "lr_schedule": _LR_SCHEDULES,
        "class_weight": _CLASS_WEIGHTS,
        "strategy": _STRATEGIES,
    }
    if name in ("model", "data"):
        _require(isinstance(value, str) and value, name, "a non-empty string",
                 value)
    elif name == "out":
        _require(value is None or (isinstance(value, (str, os.PathLike))
                                   and str(value)),
                 name, "a directory path", value)
    elif name in ints:
        _require(_is_int(value) and value >= ints[name], name,
                 f"an integer >= {ints[name]}", value)
    elif name in optional_ints:
        low = optional_ints[name]
        _require(value is None or (_is_int(value) and value >= low), name,
                 f"an integer >= {low} or none", value)
    elif name == "validation_fraction":
        _require(_is_number(value) and 0 < value < 1, name,
                 "a number between 0 and 1 (exclusive)", value)
    elif name == "learning_rate":
        _require(_is_number(value) and value > 0, name, "a number > 0",
                 value)
    elif name in choices:
        allowed = ", ".join(str(c).lower() for c in choices[name])
        _require(value in choices[name], name, f"one of: {allowed}", value)
    elif name == "devices":
        _require(value is None or (isinstance(value, list) and value and all(
            isinstance(d, str) and d for d in value)), name,
            "a non-empty list of device names or none", value)
    elif name == "jit_compile":
        _require(value is None or isinstance(value, bool), name,
                 "true, false or none (auto)", value)
    elif name in ("data_options", "hparams"):
        _require(isinstance(value, dict) and all(
            isinstance(k, str) for k in value), name,
            "a dict with string keys", value)
    else:
        _require(isinstance(value, bool), name, "true or false", value)


def _coerce_field(name, value):
    """Turns CLI strings into the field's type; other values pass through."""
    if not isinstance(value, str) or name in ("model", "data", "out"):
        return value
    text = value.strip()
    kind = {f.name: f.type for f in dataclasses.fields(TrainConfig)}[name]
    kind = kind.__name__ if isinstance(kind, type) else str(kind)
    if "None" in kind and text.lower() in _NONE_WORDS:
        return None
    if kind.startswith("int"):
        with contextlib.suppress(ValueError):
            return int(text)
    elif kind.startswith("float"):
        with contextlib.suppress(ValueError):
            return float(text)
    elif kind.startswith("bool"):
        if text.lower() in _TRUE_WORDS:
            return True
        if text.lower() in _FALSE_WORDS:
            return False
    elif kind.startswith("list"):
        return [d.strip() for d in text.split(",") if d.strip()]
    elif kind.startswith("str"):
        return text.lower()
    return value


def parse_value(text):
    """A ``--set`` value: int, float, true/false, none, else the string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def apply_overrides(config, assignments):
    """Applies ``key=value`` strings to a config dict (returns a new dict).

    A key is a `TrainConfig` field, ``data_options.NAME``, ``hparams.NAME``
    or a hyper-parameter of the chosen model (bare name).

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
                f"--set expects key=value; got {assignment!r}"
            )
        group, dot, sub = key.partition(".")
        model = config.get("model", TrainConfig.model)
        if dot and group in ("hparams", "data_options") and sub:
            config[group][sub] = parse_value(text)
        elif key in fields:
            config[key] = text
        elif key in models.default_hparams(model):
            config["hparams"][key] = parse_value(text)
        else:
            hparams = sorted(models.default_hparams(model))
            raise ConfigError(
                f"unknown --set key {key!r}; valid keys: config fields "
                f"{', '.join(fields)}; hyper-parameters of {model!r}: "
                f"{', '.join(hparams)}; or data_options.NAME"
            )
    return config


# ---------------------------------------------------------------- run dir


def run_status(run_dir):
    """``"absent"``, ``"empty"``, ``"running"`` or ``"finished"``.

    Raises:
        ConfigError: `run_dir` is a file, or a non-empty folder that is
            not a kerasseq run directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        return "absent"
    if not run_dir.is_dir():
        raise ConfigError(
            f"--out {run_dir} is a file; choose a directory path"
        )
    if not (run_dir / RUN_FILE).is_file():
        if any(run_dir.iterdir()):
            raise ConfigError(
                f"--out {run_dir} is a non-empty folder that is not a "
                "kerasseq run; choose another --out"
            )
        return "empty"
    status = read_json(run_dir / RUN_FILE, "run file").get("status")
    return "finished" if status == "finished" else "running"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds"
    )


def start_run(run_dir, status, config_record, overwrite):
    """Creates (or reuses, to resume) the run dir, marks it running and
    writes `config_record` to its config file; returns True on resume.

    Raises:
        ConfigError: an unfinished run there has a different config.
    """
    if status in ("running", "finished") and overwrite:
        shutil.rmtree(run_dir)
        status = "absent"
    if status == "running" and (run_dir / CONFIG_FILE).is_file():
        saved = read_json(run_dir / CONFIG_FILE, "run config")["config"]
        current = config_record["config"]
        changed = sorted(
            key for key in current
            if key not in _RESUME_FREE and saved.get(key) != current[key]
        )
        if changed:
            raise ConfigError(
                f"{run_dir} holds an unfinished run with a different "
                f"config ({', '.join(changed)}); use --overwrite or "
                "another --out"
            )
        return True
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / RUN_FILE, {"status": "running", "started": _now()})
    write_json(run_dir / CONFIG_FILE, config_record)
    return False


def finish_run(run_dir, **details):
    """Marks the run in `run_dir` finished (its run file keeps the start
    time and gains the finish time and `details`)."""
    started = read_json(run_dir / RUN_FILE, "run file").get("started")
    write_json(run_dir / RUN_FILE, {
        "status": "finished", "started": started, "finished": _now(),
        **details,
    })


def _read_log(path):
    """Per-epoch history from the CSV log: {metric: [values...]}."""
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as file:
        rows = {int(row["epoch"]): row for row in csv.DictReader(file)}
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch":
                history.setdefault(key, []).append(float(value))
    return history


def _finished_epochs(run_dir):
    path = run_dir / BACKUP_DIR / "training_metadata.json"
    if not path.is_file():
        return 0
    return int(read_json(path, "backup metadata").get("epoch", 0))


# ---------------------------------------------------------------- devices


def _make_strategy(config):
    import keras

    if config.strategy in ("mirrored", "multiworker") and (
        keras.backend.backend() != "tensorflow"
    ):
        raise ConfigError(
            f"strategy {config.strategy!r} needs KERAS_BACKEND=tensorflow; "
            f"the backend is {keras.backend.backend()!r}"
        )
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if config.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(config.devices)
    if config.strategy == "multiworker":
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise ConfigError(
                f"strategy 'multiworker' must be set up before TensorFlow "
                f"runs anything in the process ({error}); run it in a "
                "fresh process, e.g. `kerasseq train --strategy multiworker`"
            ) from None
    gpus = tf.config.list_physical_devices("GPU")
    if config.strategy == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _is_multiworker_chief():
    """Whether ``TF_CONFIG`` names this process the chief.

    The chief is task ``chief``, else worker 0 (TensorFlow's rule).

    Raises:
        ConfigError: ``TF_CONFIG`` is unset or malformed.
    """
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(
            "strategy 'multiworker' reads the cluster from the TF_CONFIG "
            "environment variable, which is not set"
        )
    try:
        tf_config = json.loads(text)
        cluster, task = tf_config["cluster"], tf_config["task"]
        kind, index = task["type"], task["index"]
        size = len(cluster[kind])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            'TF_CONFIG must be JSON like {"cluster": {"worker": '
            '["host:port", ...]}, "task": {"type": "worker", "index": 0}}; '
            f"got {text!r}"
        ) from None
    if not (_is_int(index) and 0 <= index < size):
        raise ConfigError(
            f"TF_CONFIG task index {index!r} is not in 0..{size - 1} (the "
            f"cluster lists {size} {kind} address(es)); fix task.index"
        )
    return kind == "chief" or (
        kind == "worker" and index == 0 and "chief" not in cluster
    )


def _strategy_name(strategy):
    import tensorflow as tf

    if strategy is None or strategy is tf.distribute.get_strategy():
        return "default"
    return type(strategy).__name__


def _device_name():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU ({platform.processor() or platform.machine()})"
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("device_name", gpus[0].name)


@contextlib.contextmanager
def _precision_policy(mixed):
    import keras

    previous = keras.mixed_precision.global_policy().name
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _environment(config, strategy, model):
    import keras
    import numpy as np
    import tensorflow as tf

    import kerasseq
    from kerasseq import models

    return {
        "kerasseq": kerasseq.__version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "backend": keras.backend.backend(),
        "device": _device_name(),
        "strategy": _strategy_name(strategy),
        "replicas": strategy.num_replicas_in_sync if strategy else 1,
        "mixed_precision": config.mixed_precision,
        "jit_compile": bool(model.jit_compile),
        "deterministic": config.deterministic,
        "cudnn_eligible": models.cudnn_eligible(model),
    }


# ---------------------------------------------------------------- training


def _shard(dataset):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def _callbacks(config, run_dir, backup=True):
    import keras

    # The log row of an epoch is written before its backup, so a kill in
    # between reruns that epoch (its new row replaces the old one) instead
    # of losing its row. The double checkpoint survives a kill while the
    # backup is being written.
    callbacks = [
        keras.callbacks.CSVLogger(str(run_dir / LOG_FILE), append=True),
    ]
    if backup:
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(run_dir / BACKUP_DIR), double_checkpoint=True
        ))
    if config.patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=config.patience,
                restore_best_weights=True,
            )
        )
    if config.lr_schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=1, min_lr=1e-6
            )
        )
    return callbacks


def _learning_rate(config, train_ds):
    import keras

    if config.lr_schedule == "cosine":
        # Bucketing makes the batch count unknown to tf.data: count them.
        steps_per_epoch = int(train_ds.reduce(0, lambda count, _: count + 1))
        return keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch
        )
    return config.learning_rate


def _batching(config, strategy):
    """`make_dataset` keyword arguments for how batches are shaped."""
    # Replicas exchange embedding gradients with collectives that need
    # equal shapes on every replica: fixed [batch, maxlen] batches then.
    replicated = strategy is not None and strategy.num_replicas_in_sync > 1
    if replicated:
        return {"pad_to_maxlen": True}
    if config.bucketing:
        # Windows of batches sorted by length: full batches, little
        # padding; lengths rounded up to a multiple of 8 keep shapes few.
        return {"sort_window": SORT_WINDOW, "pad_to_multiple_of": 8}
    return {}


def _train_dataset(config, sequences, labels, strategy, seed):
    from kerasseq.pipeline import make_dataset

    batching = _batching(config, strategy)
    dataset = make_dataset(
        sequences, labels, batch_size=config.batch_size,
        maxlen=config.maxlen, shuffle=True, seed=seed,
        drop_remainder=batching.get("pad_to_maxlen", False), **batching,
    )
    return dataset if strategy is None else _shard(dataset)


def _training_datasets(config, splits, strategy):
    from kerasseq.pipeline import make_dataset

    train_sequences, train_labels, val_sequences, val_labels = splits
    train_ds = _train_dataset(config, train_sequences, train_labels,
                              strategy, config.seed)
    val_ds = make_dataset(
        val_sequences, val_labels,
        batch_size=config.batch_size, maxlen=config.maxlen, shuffle=False,
        **_batching(config, strategy),
    )
    return train_ds, val_ds if strategy is None else _shard(val_ds)


def _compiled_model(config, strategy, tokenizer, num_classes, train_ds,
                    train_split):
    """Builds and compiles ``config.model`` (in the strategy's scope) and
    adapts its layers to the vocabulary and to `train_split`'s labels."""
    import keras

    from kerasseq import models

    with strategy.scope() if strategy else contextlib.nullcontext():
        model = models.build(config.model, tokenizer.vocab_size,
                             num_classes, **config.hparams)
        model.compile(
            optimizer=keras.optimizers.Adam(
                _learning_rate(config, train_ds)
            ),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=(
                "auto" if config.jit_compile is None else config.jit_compile
            ),
        )
        _adapt_to_vocabulary(model, tokenizer)
        _adapt_to_labels(model, train_split, config)
    return model


def _adapt_to_vocabulary(model, tokenizer):
    """Runs ``adapt_to_vocabulary(tokenizer.vocabulary)`` of the layers
    that have it (e.g. `SubwordHashing`, whose table is built from the
    words)."""
    for layer in model.layers:
        if hasattr(layer, "adapt_to_vocabulary"):
            layer.adapt_to_vocabulary(tokenizer.vocabulary)


def _adapt_to_labels(model, train_split, config):
    """Runs ``adapt_to_labels`` of layers that learn statistics of labels.

    Such a layer (e.g. `LogCountRatioLogits`) receives ``(inputs,
    labels)`` batches of the training split, its inputs computed by the
    model's layers before it in inference mode.
    """
    import keras

    from kerasseq.pipeline import make_dataset

    adapting = [layer for layer in model.layers
                if hasattr(layer, "adapt_to_labels")]
    if not adapting:
        return
    sequences, labels = train_split
    dataset = make_dataset(
        sequences, labels, batch_size=256,
        maxlen=config.maxlen, shuffle=False, cache=False,
    )
    for layer in adapting:
        inputs = keras.Model(model.input, layer.input)
        layer.adapt_to_labels(
            (keras.ops.convert_to_numpy(inputs(ids, training=False)),
             batch_labels.numpy())
            for ids, batch_labels in dataset
        )


def _finish_training(model):
    """Runs ``finish_training()`` of the layers that change once fitting
    ends (e.g. `LogCountRatioLogits`' naive Bayes interpolation)."""
    for layer in model.layers:
        if hasattr(layer, "finish_training"):
            layer.finish_training()


def _class_weights(config, labels, num_classes):
    if config.class_weight is None:
        return None
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    by_class = dict.fromkeys(range(num_classes), 1.0)
    by_class.update(zip(present.tolist(), weights.tolist(), strict=True))
    return by_class


def _attention_examples(model, sequences, y_true, y_prob, tokenizer,
                        class_names, count=8):
    """Up to `count` test examples (errors first) with attention weights."""
    import numpy as np

    from kerasseq import models
    from kerasseq.text import pad

    attention = models.attention_model(model)
    if attention is None:
        return None
    predicted = y_prob.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)[: count // 2]
    right = np.flatnonzero(predicted == y_true)[: count - len(wrong)]
    chosen = [int(i) for i in np.concatenate([wrong, right]) if sequences[i]]
    if not chosen:
        return None
    ids = pad([sequences[i] for i in chosen])
    weights = np.asarray(attention.predict(ids, verbose=0))
    return [
        {
            "tokens": [tokenizer.index_word[t] for t in sequences[i]],
            "weights": weights[row, : len(sequences[i])].tolist(),
            "true_label": class_names[y_true[i]],
            "predicted_label": class_names[predicted[i]],
        }
        for row, i in enumerate(chosen)
    ]


def _fit_tokenizer(config, texts):
    """A `Tokenizer` with the config's options, fitted on `texts`."""
    from kerasseq.text import Tokenizer

    tokenizer = Tokenizer(
        num_words=config.max_tokens, mask_digits=config.mask_digits,
        split_symbols=config.split_symbols,
    )
    tokenizer.fit_on_texts(texts)
    return tokenizer


def predict_proba(model, sequences, batch_size, maxlen):
    """Class probabilities of `model` for token-id `sequences` (batched
    and right-padded to at most `maxlen` as in training)."""
    from kerasseq.pipeline import make_dataset

    dataset = make_dataset(
        sequences, batch_size=batch_size, maxlen=maxlen, shuffle=False,
        cache=False,
    )
    return model.predict(dataset, verbose=0)


def train(config, *, verbose=1):
    """Trains, evaluates, saves and exports one model.

    Args:
        config: a `TrainConfig` or a dict for `TrainConfig.from_dict`.
        verbose: Keras ``fit`` verbosity (1 = progress bar, 0 = silent).

    Returns:
        A `RunResult` (run_dir, metrics, model, tokenizer, class_names,
        config); ``run_dir`` is ``None`` on a multiworker worker other
        than the chief (it writes nothing in ``out``).

    Raises:
        ConfigError / DataError: bad config, hyper-parameters or data
            (raised before the run directory is created).
        TrainingInterrupted: Ctrl-C during fit; calling `train` again
            with the same config resumes from the last finished epoch.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ConfigError(
            f"Expected a TrainConfig or a dict. Received "
            f"{type(config).__name__}."
        )
    if config.strategy == "multiworker" and not _is_multiworker_chief():
        # Keras' multi-worker recipe: every worker runs the same program,
        # the others write into a scratch folder and leave `out` to the
        # chief. Their RunResult has no run directory.
        with tempfile.TemporaryDirectory(prefix="kerasseq-worker-") as tmp:
            result = _train(dataclasses.replace(config, out=tmp), verbose)
        return dataclasses.replace(
            result, run_dir=None,
            config=dataclasses.replace(result.config, out=config.out),
        )
    return _train(config, verbose)


def _train(config, verbose):
    run_dir = Path(config.out)
    status = run_status(run_dir)
    if status == "finished" and not config.overwrite:
        raise ConfigError(
            f"{run_dir} already holds a finished run; use --overwrite or "
            "another --out"
        )
    if (config.strategy == "multiworker" and status == "running"
            and not config.overwrite):
        raise ConfigError(
            f"{run_dir} holds an unfinished run; strategy 'multiworker' "
            "cannot resume (no BackupAndRestore across workers); use "
            "--overwrite to start over or another --out"
        )

    import keras
    import numpy as np

    from kerasseq import models
    from kerasseq.datasets import load_dataset

    hparams = models.resolve_hparams(config.model, **config.hparams)
    strategy = _make_strategy(config)
    dataset = load_dataset(config.data, **config.data_options)
    if len(dataset.test_texts) == 0:
        raise DataError(
            f"{config.data} has no test examples; give it a test split"
        )
    train_texts, train_labels, val_texts, val_labels = (
        dataset.validation_split(config.validation_fraction, config.seed)
    )
    tokenizer = _fit_tokenizer(config, train_texts)
    config = dataclasses.replace(
        config, maxlen=config.maxlen or tokenizer.maxlen, hparams=hparams
    )
    if config.maxlen > hparams.get("max_length", config.maxlen):
        raise ConfigError(
            f"maxlen {config.maxlen} exceeds max_length "
            f"{hparams['max_length']} of model {config.model!r}; lower "
            f"--maxlen or --set max_length={config.maxlen}"
        )
    class_names = list(dataset.class_names)
    record = {
        "config": config.to_dict(),
        "vocab_size": tokenizer.vocab_size,
        "class_names": class_names,
        "n_train": len(train_texts),
        "n_validation": len(val_texts),
        "n_test": len(dataset.test_texts),
    }

    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    train_sequences = tokenizer.texts_to_sequences(train_texts)
    splits = (train_sequences, train_labels,
              tokenizer.texts_to_sequences(val_texts), val_labels)
    train_ds, val_ds = _training_datasets(config, splits, strategy)
    with _precision_policy(config.mixed_precision):
        model = _compiled_model(
            config, strategy, tokenizer, len(class_names), train_ds,
            (train_sequences, train_labels),
        )
        if start_run(run_dir, status, record, config.overwrite):
            print(f"resuming the unfinished run in {run_dir} after "
                  f"{_finished_epochs(run_dir)} finished epoch(s)")
        everything = (train_texts + val_texts,
                      np.concatenate([train_labels, val_labels])
                      ) if config.refit else None
        metrics, model, tokenizer = _fit_and_report(
            config, run_dir, (model, strategy), tokenizer, dataset,
            class_names, (train_ds, val_ds, train_labels, everything),
            verbose,
        )
        model.save(run_dir / "model.keras")
        (run_dir / "tokenizer.json").write_text(
            tokenizer.to_json(), encoding="utf-8"
        )
        if config.refit:
            write_json(run_dir / CONFIG_FILE,
                       {**record, "vocab_size": tokenizer.vocab_size})
        write_json(run_dir / "environment.json",
                   _environment(config, strategy, model))
        if config.export:
            from kerasseq import exporter

            exporter.export(
                model, tokenizer, class_names, run_dir / "saved_model",
                maxlen=config.maxlen, overwrite=True,
                metadata={
                    "model_name": config.model,
                    "model_config": hparams,
                    "metrics": {k: metrics[k]
                                for k in ("accuracy", "macro_f1")},
                    "data": config.data,
                },
            )
    finish_run(run_dir, epochs_run=metrics["epochs_run"])
    return RunResult(run_dir, metrics, model, tokenizer, class_names, config)


def _fit_and_report(config, run_dir, trained, tokenizer, dataset,
                    class_names, data, verbose):
    """Fits, writes the report; returns ``(metrics, model, tokenizer)``:
    with ``config.refit``, the refit model and its tokenizer."""
    import numpy as np

    from kerasseq.reporting import write_report

    model, strategy = trained
    train_ds, val_ds, train_labels, everything = data
    class_weight = _class_weights(config, train_labels, len(class_names))
    start = time.perf_counter()
    try:
        if config.strategy == "multiworker":
            model = _fit_multiworker(
                config, run_dir, model, strategy, (train_ds, val_ds),
                class_weight, verbose,
            )
        else:
            with warnings.catch_warnings():
                # Bucketed datasets have unknown cardinality; Keras warns.
                warnings.filterwarnings("ignore",
                                        message="Your input ran out")
                model.fit(
                    train_ds,
                    shuffle=False,
                    validation_data=val_ds,
                    epochs=config.epochs,
                    callbacks=_callbacks(config, run_dir),
                    class_weight=class_weight,
                    verbose=verbose,
                )
    except KeyboardInterrupt:
        if config.strategy == "multiworker":
            raise TrainingInterrupted(
                "interrupted; strategy 'multiworker' cannot resume, rerun "
                "with --overwrite to start over"
            ) from None
        done = _finished_epochs(run_dir)
        raise TrainingInterrupted(
            f"interrupted after {done} finished epoch(s); rerun the same "
            f"command to resume from epoch {done + 1}"
        ) from None
    _finish_training(model)
    train_seconds = time.perf_counter() - start
    history = _read_log(run_dir / LOG_FILE)
    refit = {}
    if config.refit:
        # The epoch whose weights early stopping restored, else the last.
        losses = history.get("val_loss", [])
        epochs = (int(np.argmin(losses)) + 1 if config.patience is not None
                  and losses else len(history.get("loss", [])) or 1)
        start = time.perf_counter()
        model, tokenizer = _refit(config, strategy, len(class_names),
                                  everything, epochs, verbose)
        refit = {"refit_epochs": epochs,
                 "refit_seconds": round(time.perf_counter() - start, 2)}

    test_sequences = tokenizer.texts_to_sequences(dataset.test_texts)
    y_true = np.asarray(dataset.test_labels)
    y_prob = predict_proba(model, test_sequences, config.batch_size,
                           config.maxlen)
    clipped = [s[: config.maxlen] for s in test_sequences]
    metrics = write_report(
        run_dir,
        y_true=y_true,
        y_prob=y_prob,
        class_names=class_names,
        texts=list(dataset.test_texts),
        history=history,
        extra={
            "epochs_run": len(history.get("loss", [])),
            "train_seconds": round(train_seconds, 2),
            "model": config.model,
            **refit,
        },
        attention_examples=_attention_examples(
            model, clipped, y_true, y_prob, tokenizer, class_names
        ),
    )
    return metrics, model, tokenizer


def _refit(config, strategy, num_classes, everything, epochs, verbose):
    """``(model, tokenizer)``: a tokenizer fitted on `everything` (all
    training texts and labels), and a fresh model fitted on it for
    `epochs` epochs, without validation."""
    import keras

    texts, labels = everything
    tokenizer = _fit_tokenizer(config, texts)
    sequences = tokenizer.texts_to_sequences(texts)
    dataset = _train_dataset(config, sequences, labels, strategy,
                             config.seed + 1)
    keras.utils.set_random_seed(config.seed + 1)
    model = _compiled_model(
        dataclasses.replace(config, epochs=epochs), strategy, tokenizer,
        num_classes, dataset, (sequences, labels),
    )
    if verbose:
        print(f"refit: {epochs} epoch(s) on all {len(labels)} training "
              "examples")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out")
            model.fit(
                dataset, shuffle=False, epochs=epochs,
                class_weight=_class_weights(config, labels, num_classes),
                verbose=verbose,
            )
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            "interrupted during the refit; rerun with --overwrite to start "
            "over"
        ) from None
    _finish_training(model)
    return model, tokenizer


def _fit_multiworker(config, run_dir, model, strategy, datasets,
                     class_weight, verbose):
    """`Model.fit` under MultiWorkerMirroredStrategy, as a custom loop.

    Keras 3's ``Model.fit`` fails under that strategy (it all-reduces
    scalar logs along axis 0, keras-team/keras#20585). Every worker runs
    each synchronous step on its shard of the global batch (the loss is
    averaged over the global batch, the gradients all-reduced), then
    validates on the whole, unsharded validation set, so all workers
    compute the same logs and the Keras callbacks (CSV log, early
    stopping with best-weight restore, plateau schedule) decide alike
    and no collective is left waiting. No BackupAndRestore: a run cannot
    resume.

    Returns:
        A copy of the trained model and its optimizer state outside the
        strategy, so predicting, saving and exporting involve no
        collectives.
    """
    import keras
    import tensorflow as tf

    train_ds, val_ds = datasets
    loss_fn = keras.losses.get(model.loss)
    weights = None
    if class_weight is not None:
        weights = tf.constant([class_weight[c]
                               for c in range(len(class_weight))],
                              dtype="float32")
    variables = model.trainable_variables
    with strategy.scope():
        model.optimizer.build(variables)

    def replica_step(ids, labels):
        with tf.GradientTape() as tape:
            probs = model(ids, training=True)
            per_example = loss_fn(labels, probs)
            loss = tf.nn.compute_average_loss(
                per_example, global_batch_size=config.batch_size,
                sample_weight=(None if weights is None
                               else tf.gather(weights, labels)),
            )
            if model.losses:
                loss += tf.nn.scale_regularization_loss(
                    tf.add_n(model.losses))
            scaled = model.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        model.optimizer.apply_gradients(
            zip(gradients, variables, strict=True))
        return loss, _count_correct(labels, probs)

    @tf.function
    def train_step(batch):
        loss, correct = strategy.run(replica_step, args=batch)
        return (strategy.reduce("SUM", loss, axis=None),
                strategy.reduce("SUM", correct, axis=None))

    @tf.function
    def validation_step(ids, labels):
        probs = model(ids, training=False)
        return (tf.reduce_sum(loss_fn(labels, probs)),
                _count_correct(labels, probs), tf.size(labels))

    distributed = strategy.experimental_distribute_dataset(train_ds)
    callbacks = keras.callbacks.CallbackList(
        _callbacks(config, run_dir, backup=False), model=model
    )
    model.stop_training = False
    callbacks.on_train_begin()
    for epoch in range(config.epochs):
        callbacks.on_epoch_begin(epoch)
        totals = [0.0, 0.0, 0]
        for batch in distributed:
            loss, correct = train_step(batch)
            totals = [totals[0] + float(loss), totals[1] + float(correct),
                      totals[2] + 1]
        logs = {"loss": totals[0] / totals[2],
                "accuracy": totals[1] / (totals[2] * config.batch_size)}
        val_totals = [0.0, 0.0, 0]
        for ids, labels in val_ds:
            val_totals = [a + float(b) for a, b in
                          zip(val_totals, validation_step(ids, labels),
                              strict=True)]
        logs["val_loss"] = val_totals[0] / val_totals[2]
        logs["val_accuracy"] = val_totals[1] / val_totals[2]
        if verbose:
            print(f"epoch {epoch + 1}/{config.epochs}: " + ", ".join(
                f"{key} {value:.4f}" for key, value in logs.items()))
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end()
    local = keras.models.clone_model(model)
    local.set_weights(model.get_weights())
    local.compile(
        optimizer=keras.optimizers.deserialize(
            keras.optimizers.serialize(model.optimizer)),
        loss=model.loss, metrics=["accuracy"],
    )
    local.optimizer.build(local.trainable_variables)
    for target, source in zip(local.optimizer.variables,
                              model.optimizer.variables, strict=True):
        target.assign(source.numpy())
    return local


def _count_correct(labels, probs):
    import tensorflow as tf

    predicted = tf.argmax(probs, axis=-1, output_type=labels.dtype)
    return tf.reduce_sum(tf.cast(predicted == labels, "float32"))


# -------------------------------------------------------------- evaluation


def load_run(run_dir):
    """Loads ``(model, tokenizer, config_record)`` from a run directory.

    Raises:
        ArtifactError: a file of the run is missing or unreadable.
    """
    import keras

    import kerasseq.models  # noqa: F401  (registers the custom layers)
    from kerasseq.text import Tokenizer

    run_dir = Path(run_dir)
    for name in ("model.keras", "tokenizer.json", CONFIG_FILE):
        if not (run_dir / name).is_file():
            raise ArtifactError(
                f"{run_dir / name} not found; pass the directory of a "
                "finished `kerasseq train` run"
            )
    record = read_json(run_dir / CONFIG_FILE, "run config")
    tokenizer = Tokenizer.from_json(
        (run_dir / "tokenizer.json").read_text(encoding="utf-8")
    )
    try:
        model = keras.saving.load_model(run_dir / "model.keras")
    except (OSError, ValueError, TypeError) as error:
        raise ArtifactError(
            f"cannot load {run_dir / 'model.keras'}: {error}"
        ) from None
    return model, tokenizer, record


def evaluate(run_dir, data, *, out=None, data_options=None):
    """Evaluates a finished run on the test split of `data`.

    Labels are matched to the run's classes by name. Writes the report
    files into `out` (default ``RUN_DIR/eval``) and returns the metrics.

    Raises:
        ArtifactError: `run_dir` is not a complete run.
        DataError: `data` cannot be loaded, has no test examples or has
            labels the model does not know.
    """
    import numpy as np

    from kerasseq.datasets import load_dataset
    from kerasseq.reporting import write_report

    model, tokenizer, record = load_run(run_dir)
    config = record["config"]
    class_names = record["class_names"]
    dataset = load_dataset(data, **(data_options or {}))
    unknown = sorted(set(dataset.class_names) - set(class_names))
    if unknown:
        raise DataError(
            f"{data} has labels the model was not trained on: "
            f"{', '.join(map(str, unknown))}; the model knows "
            f"{', '.join(class_names)}"
        )
    if len(dataset.test_texts) == 0:
        raise DataError(f"{data} has no test examples to evaluate on")
    to_run_id = np.array([class_names.index(c) for c in dataset.class_names])
    y_true = to_run_id[np.asarray(dataset.test_labels)]
    sequences = tokenizer.texts_to_sequences(dataset.test_texts)
    y_prob = predict_proba(model, sequences, config["batch_size"],
                      config["maxlen"])
    return write_report(
        Path(out) if out else Path(run_dir) / "eval",
        y_true=y_true,
        y_prob=y_prob,
        class_names=class_names,
        texts=list(dataset.test_texts),
        extra={"data": str(data),
               "run_dir": str(run_dir)},
    )


# ----------------------------------------------------------------- recipes


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
