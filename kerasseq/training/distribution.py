"""Strategies, TF_CONFIG, the multi-worker loop and environment info."""

import contextlib
import json
import os
import platform

from kerasseq.errors import ConfigError


def make_strategy(config):
    """The `tf.distribute` strategy `config.strategy` names (``None`` on
    another backend)."""
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
        if config.devices:
            _check_devices(config.devices)
        return tf.distribute.MirroredStrategy(config.devices)
    if config.strategy == "multiworker":
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except RuntimeError as error:
            raise ConfigError(
                f"strategy 'multiworker' must be set up before TensorFlow "
                f"runs anything in the process ({error}); run it in a "
                "fresh process (`kerasseq train`, or a script that calls "
                "train before anything else uses TensorFlow)"
            ) from None
    gpus = tf.config.list_physical_devices("GPU")
    if config.strategy == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _check_devices(devices):
    """Raises a `ConfigError` naming the `devices` TensorFlow does not see
    (MirroredStrategy would hang on them or fall back to the CPU)."""
    import tensorflow as tf

    def key(name):
        spec = tf.DeviceSpec.from_string(name)
        return (spec.device_type or "").upper(), spec.device_index or 0

    try:
        wanted = {name: key(name) for name in devices}
    except ValueError as error:
        raise ConfigError(f"devices: {error}; name devices like "
                          "'/gpu:0'") from None
    seen = tf.config.list_logical_devices()
    present = {key(device.name) for device in seen}
    missing = [name for name, spec in wanted.items() if spec not in present]
    if missing:
        raise ConfigError(
            f"devices {', '.join(missing)} not found; TensorFlow sees "
            f"{', '.join(device.name for device in seen)}. Pass devices "
            "from that list, or devices=None to use every GPU"
        )


def is_multiworker_chief():
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
    if isinstance(index, bool) or not (
            isinstance(index, int) and 0 <= index < size):
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
def precision_policy(mixed):
    """Sets the ``mixed_float16`` policy while the block runs if `mixed`."""
    import keras

    previous = keras.mixed_precision.global_policy().name
    if mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def environment(config, strategy, model):
    """The ``environment.json`` record: versions, device, strategy."""
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


def shard(dataset):
    """`dataset` sharded by data (not by file) across workers."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


def fit_multiworker(config, model, strategy, datasets, callbacks,
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
    resume. `callbacks` are the Keras callbacks to drive (no backup).

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
    callbacks = keras.callbacks.CallbackList(callbacks, model=model)
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
