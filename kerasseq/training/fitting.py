"""Fitting: datasets, callbacks, the compiled model, its adapt hooks,
the validated fit and the refit."""

import contextlib
import dataclasses
import math
import warnings

from kerasseq.errors import ConfigError
from kerasseq.training import distribution, optimization, rundir

# Batches per window sorted by length when `bucketing` is on.
SORT_WINDOW = 32


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during `fit`; the backup of the last finished epoch is kept."""


def stop_on_non_finite_loss(learning_rate):
    """A Keras callback raising a `ConfigError` as soon as the training
    loss is NaN or infinite (Keras' ``TerminateOnNaN`` stops silently and
    lets the run be exported)."""
    import keras

    if isinstance(learning_rate, (int, float)):
        rate = f"learning_rate {learning_rate:g}"
        fix = (f"a lower learning rate (e.g. learning_rate="
               f"{learning_rate / 10:g})")
    else:
        rate = "a learning-rate schedule"
        fix = "a lower learning rate"

    class StopOnNonFiniteLoss(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                raise ConfigError(
                    f"training diverged: the loss became {float(loss)} "
                    f"in batch {batch + 1} with {rate}; the run was "
                    f"stopped and not exported. Train again with {fix} "
                    "or gradient clipping (e.g. clipnorm=1.0), and "
                    "overwrite=True"
                )

    return StopOnNonFiniteLoss()


def callbacks(config, run_dir, backup=True, early_stopping=True):
    """The run's Keras callbacks: CSV log, backup (unless not `backup`),
    early stopping (unless not `early_stopping`), the plateau schedule
    and TensorBoard as configured."""
    import keras

    # The log row of an epoch is written before its backup, so a kill in
    # between reruns that epoch (its new row replaces the old one) instead
    # of losing its row. The double checkpoint survives a kill while the
    # backup is being written.
    callbacks = [
        stop_on_non_finite_loss(config.learning_rate),
        keras.callbacks.CSVLogger(str(run_dir / rundir.LOG_FILE),
                                  append=True),
    ]
    if backup:
        callbacks.append(keras.callbacks.BackupAndRestore(
            str(run_dir / rundir.BACKUP_DIR), double_checkpoint=True
        ))
    if config.patience is not None and early_stopping:
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
    if config.tensorboard:
        callbacks.append(tensorboard(run_dir / rundir.TENSORBOARD_DIR))
    return callbacks


def tensorboard(log_dir):
    """Keras' TensorBoard callback: per-epoch loss, metrics and learning
    rate in ``log_dir/train`` and ``log_dir/validation``, and the model's
    graph."""
    import keras

    return keras.callbacks.TensorBoard(log_dir=str(log_dir),
                                       write_graph=True)


def batching_options(config, strategy):
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


def train_dataset(config, sequences, labels, strategy, seed):
    """The shuffled training batches (sharded under a strategy)."""
    from kerasseq.pipeline import make_dataset

    batching = batching_options(config, strategy)
    dataset = make_dataset(
        sequences, labels, batch_size=config.batch_size,
        maxlen=config.maxlen, shuffle=True, seed=seed,
        drop_remainder=batching.get("pad_to_maxlen", False), **batching,
    )
    return dataset if strategy is None else distribution.shard(dataset)


def training_datasets(config, splits, strategy):
    """``(train_ds, val_ds)`` from ``splits = (train_sequences,
    train_labels, val_sequences, val_labels)``."""
    from kerasseq.pipeline import make_dataset

    train_sequences, train_labels, val_sequences, val_labels = splits
    train_ds = train_dataset(config, train_sequences, train_labels,
                             strategy, config.seed)
    val_ds = make_dataset(
        val_sequences, val_labels,
        batch_size=config.batch_size, maxlen=config.maxlen, shuffle=False,
        **batching_options(config, strategy),
    )
    return train_ds, val_ds if strategy is None else distribution.shard(val_ds)


def compiled_model(config, strategy, tokenizer, num_classes, train_ds,
                   train_split):
    """Builds and compiles ``config.model`` (in the strategy's scope) and
    adapts its layers to the vocabulary and to `train_split`'s labels."""

    from kerasseq import layers, models, vectors

    with strategy.scope() if strategy else contextlib.nullcontext():
        model = models.build(config.model, tokenizer.vocab_size,
                             num_classes, multi_label=config.multi_label,
                             **config.hparams)
        vectors.initialize_from_config(model, config, tokenizer)
        compile_model(model, config, train_ds)
        layers.adapt_to_vocabulary(model, tokenizer.vocabulary)
        adapt_to_labels(model, train_split, config)
    return model


def compile_model(model, config, train_ds):
    """Compiles `model` with a fresh optimizer (the token embeddings at
    ``embedding_lr_multiplier`` times the rate), the loss and accuracy."""
    layer_rates = None
    if (config.freeze_epochs or config.embedding_lr_multiplier) and not (
            embedding_layers(model)):
        raise ConfigError(
            f"freeze_epochs and embedding_lr_multiplier need a model with "
            f"a token embedding; {config.model!r} has none (set them to "
            f"none or choose another model)"
        )
    if config.embedding_lr_multiplier is not None:
        layer_rates = dict.fromkeys(
            [variable.path for layer in embedding_layers(model)
             for variable in layer.weights],
            config.embedding_lr_multiplier)
    model.compile(
        optimizer=optimization.optimizer(config, train_ds, layer_rates),
        loss=optimization.loss(config),
        metrics=["binary_accuracy" if config.multi_label else "accuracy"],
        jit_compile=(
            "auto" if config.jit_compile is None else config.jit_compile
        ),
    )


def embedding_layers(model):
    """The token embedding (`kerasseq.vectors.token_embedding`), as a list
    (empty without one): what `freeze_epochs` freezes and
    `embedding_lr_multiplier` slows down."""
    from kerasseq import vectors

    try:
        return [vectors.token_embedding(model)]
    except ConfigError:
        return []


def fit_in_phases(model, config, strategy, train_ds, epochs, done,
                  make_callbacks, **fit_options):
    """``model.fit`` for `epochs` epochs; returns the last History.

    With ``config.freeze_epochs``, unless `done` (the epochs a resumed
    backup holds) already passed them, the `embedding_layers` first train
    frozen for those epochs without early stopping; then the model is
    recompiled with their `trainable` restored (a fresh optimizer that keeps
    the step count and learning rate) and fit continues to `epochs`.
    `make_callbacks(early_stopping)` gives each phase its callbacks.
    """
    def scope():
        return strategy.scope() if strategy else contextlib.nullcontext()

    start = 0
    if config.freeze_epochs and done < config.freeze_epochs:
        trainable = [layer.trainable for layer in embedding_layers(model)]
        for layer in embedding_layers(model):
            layer.trainable = False
        with scope():
            compile_model(model, config, train_ds)
        model.fit(train_ds, epochs=config.freeze_epochs,
                  callbacks=make_callbacks(False), **fit_options)
        frozen_optimizer = model.optimizer
        # A resumed backup's epoch outlives its fit in Keras; the next
        # phase starts at freeze_epochs.
        model._initial_epoch = None
        for layer, was_trainable in zip(embedding_layers(model), trainable,
                                        strict=True):
            layer.trainable = was_trainable
        with scope():
            compile_model(model, config, train_ds)
            model.optimizer.build(model.trainable_variables)
        model.optimizer.iterations.assign(frozen_optimizer.iterations)
        if not optimization.is_scheduled(model.optimizer):
            model.optimizer.learning_rate.assign(
                frozen_optimizer.learning_rate)
        start = config.freeze_epochs
    return model.fit(train_ds, initial_epoch=start, epochs=epochs,
                     callbacks=make_callbacks(True), **fit_options)


def adapt_to_labels(model, train_split, config):
    """Adapts the layers that learn statistics of the training labels
    (e.g. `LogCountRatioLogits`) to `train_split`."""
    from kerasseq import layers
    from kerasseq.pipeline import make_dataset

    if not layers.layers_adapting_to_labels(model):
        return
    sequences, labels = train_split
    dataset = make_dataset(
        sequences, labels, batch_size=256,
        maxlen=config.maxlen, shuffle=False, cache=False,
    )
    layers.adapt_to_labels(model, dataset)


def class_weight_by_name(weights, class_names):
    """``{class name: weight}`` for every class of `class_names` from a
    dict of class name or index -> weight; classes left out weigh 1.0.

    A string key is a class name (or, if no class has that name, an index
    written as digits, as JSON keeps int keys); an int key is an index.

    Raises:
        ConfigError: a key names no class (the message lists them).
    """
    by_name = dict.fromkeys(class_names, 1.0)
    for key, weight in weights.items():
        if isinstance(key, str) and key in by_name:
            name = key
        elif str(key).isdigit() and int(key) < len(class_names):
            name = class_names[int(key)]
        else:
            raise ConfigError(
                f"class_weight names an unknown class {key!r}; known "
                f"classes: {', '.join(map(repr, class_names))} (or their "
                f"indices 0 to {len(class_names) - 1})"
            )
        by_name[name] = float(weight)
    return by_name


def class_weights(config, labels, class_names):
    """Keras ``class_weight`` ({class index: weight}) for
    ``config.class_weight`` (or ``None``).

    Raises:
        ConfigError: a dict names an unknown class.
    """
    if config.class_weight is None:
        return None
    if isinstance(config.class_weight, dict):
        by_name = class_weight_by_name(config.class_weight, class_names)
        return dict(enumerate(by_name.values()))
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    by_class = dict.fromkeys(range(len(class_names)), 1.0)
    by_class.update(zip(present.tolist(), weights.tolist(), strict=True))
    return by_class


def fit_tokenizer(config, texts):
    """A `Tokenizer` with the config's options, fitted on `texts`."""
    from kerasseq.text import Tokenizer

    tokenizer = Tokenizer(
        num_words=config.max_tokens, mask_digits=config.mask_digits,
        split_symbols=config.split_symbols,
    )
    tokenizer.fit_on_texts(texts)
    return tokenizer


def fit(config, run_dir, model, strategy, datasets, class_weight, verbose,
        extra_callbacks=()):
    """Fits `model` on ``datasets = (train_ds, val_ds)`` with the run's
    callbacks (log, backup, early stopping, ...) followed by
    `extra_callbacks`; returns the fitted model.

    Raises:
        TrainingInterrupted: Ctrl-C; the backup of the last finished
            epoch is kept (except with ``"multiworker"``).
    """
    from kerasseq.layers import finish_layers_training

    train_ds, val_ds = datasets
    try:
        if config.strategy == "multiworker":
            model = distribution.fit_multiworker(
                config, model, strategy, datasets,
                [*callbacks(config, run_dir, backup=False),
                 *extra_callbacks],
                class_weight, verbose,
            )
        else:
            with warnings.catch_warnings():
                # Bucketed datasets have unknown cardinality; Keras warns.
                warnings.filterwarnings("ignore",
                                        message="Your input ran out")
                fit_in_phases(
                    model, config, strategy, train_ds, config.epochs,
                    rundir.finished_epochs(run_dir),
                    lambda early_stopping: [
                        *(callbacks(config, run_dir) if early_stopping
                          else callbacks(config, run_dir,
                                         early_stopping=False)),
                        *extra_callbacks],
                    shuffle=False,
                    validation_data=val_ds,
                    class_weight=class_weight,
                    verbose=verbose,
                )
    except KeyboardInterrupt:
        if config.strategy == "multiworker":
            raise TrainingInterrupted(
                "interrupted; strategy 'multiworker' cannot resume, rerun "
                "with overwrite=True to start over"
            ) from None
        done = rundir.finished_epochs(run_dir)
        raise TrainingInterrupted(
            f"interrupted after {done} finished epoch(s); call train "
            f"again with the same config to resume from epoch {done + 1}"
        ) from None
    finish_layers_training(model)
    return model


def refit_epochs(config, history):
    """Epochs of the refit: the epoch whose weights early stopping
    restored, else the number of epochs run (at least 1)."""
    import numpy as np

    losses = history.get("val_loss", [])
    if config.patience is not None and losses:
        return int(np.argmin(losses)) + 1
    return len(history.get("loss", [])) or 1


def refit(config, run_dir, strategy, class_names, everything, epochs,
          verbose, extra_callbacks=()):
    """``(model, tokenizer)``: a tokenizer fitted on `everything` (all
    training texts and labels), and a fresh model fitted on it for
    `epochs` epochs, without validation.

    Its fit's callbacks are TensorBoard (into ``tensorboard/refit``) when
    configured, then `extra_callbacks` (which see no ``val_`` logs).
    """
    import keras

    from kerasseq.layers import finish_layers_training

    texts, labels = everything
    tokenizer = fit_tokenizer(config, texts)
    sequences = tokenizer.texts_to_sequences(texts)
    dataset = train_dataset(config, sequences, labels, strategy,
                            config.seed + 1)
    keras.utils.set_random_seed(config.seed + 1)
    # Fewer refit epochs than freeze_epochs: the last one unfreezes.
    freeze = min(config.freeze_epochs or 0, epochs - 1) or None
    config = dataclasses.replace(config, epochs=epochs, freeze_epochs=freeze)
    model = compiled_model(
        config, strategy, tokenizer, len(class_names), dataset,
        (sequences, labels),
    )
    refit_callbacks = list(extra_callbacks)
    if config.tensorboard:
        refit_callbacks.insert(0, tensorboard(
            run_dir / rundir.TENSORBOARD_DIR / "refit"))
    if verbose:
        print(f"refit: {epochs} epoch(s) on all {len(labels)} training "
              "examples")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out")
            fit_in_phases(
                model, config, strategy, dataset, epochs, 0,
                lambda early_stopping: refit_callbacks, shuffle=False,
                class_weight=class_weights(config, labels, class_names),
                verbose=verbose,
            )
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            "interrupted during the refit; rerun with overwrite=True to "
            "start over"
        ) from None
    finish_layers_training(model)
    return model, tokenizer


def choose_thresholds(config, model, val_sequences, val_labels):
    """The multi-label decision thresholds (one per label) that
    ``config.threshold_mode`` picks on the validation split."""
    from kerasseq.multilabel_reporting import choose_thresholds as choose
    from kerasseq.training.evaluation import predict_proba

    probabilities = predict_proba(model, val_sequences, config.batch_size,
                                  config.maxlen)
    return choose(val_labels, probabilities, config.threshold_mode)
