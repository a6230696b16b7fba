"""The optimizer, learning rate and loss of a run, from its config.

Keras' own optimizers, schedules and losses; `LinearWarmUp` and
`SparseCategoricalCrossentropyWithSmoothing` add what Keras lacks, and
are registered so that a saved model reloads without custom objects.
"""

import keras
from keras import ops

OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


@keras.saving.register_keras_serializable(package="kerasseq")
class LinearWarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to ``after(0)`` over `warmup_steps` steps,
    then follows ``after(step - warmup_steps)``.

    Args:
        after: a ``LearningRateSchedule`` or a float (constant).
        warmup_steps: int >= 1.
    """

    def __init__(self, after, warmup_steps):
        self.after = after
        self.warmup_steps = int(warmup_steps)

    def _after(self, step):
        if isinstance(self.after,
                      keras.optimizers.schedules.LearningRateSchedule):
            return self.after(step)
        return ops.convert_to_tensor(self.after, "float32")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = float(self.warmup_steps)
        rising = self._after(0) * step / warmup
        decaying = self._after(ops.maximum(step - warmup, 0.0))
        return ops.where(step < warmup, rising, decaying)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        after = config["after"]
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        return cls(after, config["warmup_steps"])


@keras.saving.register_keras_serializable(package="kerasseq")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy of integer labels against the smoothed targets
    ``(1 - s) * one_hot + s / classes`` (Keras' sparse loss has no
    ``label_smoothing``).

    Args:
        label_smoothing: float ``s`` in ``[0, 1)``.
        **kwargs: other keyword arguments of `keras.losses.Loss`.
    """

    def __init__(self, label_smoothing=0.0,
                 name="sparse_categorical_crossentropy_with_smoothing",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1],
                              dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            ops.reshape(one_hot, ops.shape(y_pred)), y_pred,
            label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(),
                "label_smoothing": self.label_smoothing}


def loss(config):
    """The loss: Keras' sparse (binary for ``multi_label``) cross-entropy,
    smoothed when ``config.label_smoothing`` is set."""
    if config.multi_label:
        if config.label_smoothing is None:
            return "binary_crossentropy"
        return keras.losses.BinaryCrossentropy(
            label_smoothing=config.label_smoothing)
    if config.label_smoothing is None:
        return "sparse_categorical_crossentropy"
    return SparseCategoricalCrossentropyWithSmoothing(config.label_smoothing)


def count_batches(dataset):
    """Batches in one pass of `dataset` (bucketing hides the count from
    ``tf.data``)."""
    return int(dataset.reduce(0, lambda count, _: count + 1))


def learning_rate(config, train_ds):
    """The learning rate: the config's (a number or a Keras schedule),
    or the `lr_schedule` over all ``epochs`` of `train_ds` after the
    warm-up: cosine (CosineDecay to 0), linear (PolynomialDecay with
    power 1 to 0) or exponential (ExponentialDecay to 1%); constant after
    the warm-up without a schedule."""
    schedules = keras.optimizers.schedules
    decays = ("cosine", "linear", "exponential")
    warmup = config.warmup_steps is not None or (
        config.warmup_fraction is not None)
    if config.lr_schedule not in decays and not warmup:
        return config.learning_rate
    total_steps = config.epochs * count_batches(train_ds)
    warmup_steps = config.warmup_steps or 0
    if config.warmup_fraction is not None:
        warmup_steps = max(1, round(config.warmup_fraction * total_steps))
    decay_steps = max(1, total_steps - warmup_steps)
    rate = config.learning_rate
    if config.lr_schedule == "cosine":
        if warmup_steps:
            return schedules.CosineDecay(
                0.0, decay_steps=decay_steps, warmup_target=rate,
                warmup_steps=warmup_steps)
        rate = schedules.CosineDecay(rate, decay_steps=decay_steps)
    elif config.lr_schedule == "linear":
        rate = schedules.PolynomialDecay(
            rate, decay_steps=decay_steps, end_learning_rate=0.0, power=1.0)
    elif config.lr_schedule == "exponential":
        rate = schedules.ExponentialDecay(
            rate, decay_steps=decay_steps, decay_rate=0.01)
    return LinearWarmUp(rate, warmup_steps) if warmup_steps else rate


def is_scheduled(optimizer):
    """Whether `optimizer` follows a ``LearningRateSchedule``."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return isinstance(inner._learning_rate,
                      keras.optimizers.schedules.LearningRateSchedule)


class _LayerRates:
    """Mixin: the variables whose paths `layer_rates` names learn at
    ``layer_rates[path]`` times the learning rate."""

    def __init__(self, *args, layer_rates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.layer_rates = dict(layer_rates or {})

    def update_step(self, gradient, variable, learning_rate):
        path = self._trainable_variables[
            self._get_variable_index(variable)].path
        if path in self.layer_rates:
            learning_rate = ops.multiply(learning_rate,
                                         self.layer_rates[path])
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "layer_rates": self.layer_rates}


# The optimizers with per-layer learning rates, registered for reloading:
# LayerRateAdam, LayerRateAdamW, LayerRateSGD, LayerRateRMSprop.
LAYER_RATE_OPTIMIZERS = {
    name: keras.saving.register_keras_serializable(package="kerasseq")(
        type(f"LayerRate{base.__name__}", (_LayerRates, base),
             {"__doc__": f"`keras.optimizers.{base.__name__}` with "
                         "per-layer learning-rate multipliers."}))
    for name, base in OPTIMIZERS.items()
}


def optimizer(config, train_ds, layer_rates=None):
    """A fresh Keras optimizer of ``config.optimizer`` with the config's
    learning rate, weight decay, momentum and clipping; with
    `layer_rates` (``{variable path: multiplier}``) its ``LayerRate``
    subclass, whose named variables learn at the multiplied rate."""
    options = {"learning_rate": learning_rate(config, train_ds)}
    for name in ("weight_decay", "momentum", "clipnorm", "global_clipnorm",
                 "clipvalue"):
        if getattr(config, name) is not None:
            options[name] = getattr(config, name)
    if config.nesterov:
        options["nesterov"] = True
    if layer_rates:
        return LAYER_RATE_OPTIMIZERS[config.optimizer](
            layer_rates=layer_rates, **options)
    return OPTIMIZERS[config.optimizer](**options)
