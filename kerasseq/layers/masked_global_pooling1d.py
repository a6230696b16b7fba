"""Masked mean/max pooling over time."""

import keras
from keras import ops

MODES = ("mean", "max")


@keras.saving.register_keras_serializable(package="kerasseq")
class MaskedGlobalPooling1D(keras.layers.Layer):
    """Mean or max over the non-padded steps: ``[B, T, D] -> [B, D]``.

    Keras' `GlobalMaxPooling1D` ignores masks and `GlobalAveragePooling1D`
    divides by zero on a fully padded row; here a row with no valid step
    pools to zeros. The output has no mask.

    Args:
        mode: string, ``"mean"`` or ``"max"``. Defaults to ``"mean"``.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, T, D]`` sequence.
        mask: optional ``[B, T]`` boolean padding mask; filled by Keras
            from the input's mask (e.g. `Embedding(mask_zero=True)`).

    Example:

    >>> import numpy as np
    >>> values = np.arange(6, dtype="float32").reshape((1, 3, 2))
    >>> mask = np.array([[True, True, False]])
    >>> pooled = MaskedGlobalPooling1D("max")(values, mask=mask)
    >>> keras.ops.convert_to_numpy(pooled).tolist()
    [[2.0, 3.0]]
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(
                f"Expected mode to be one of {MODES}. Received: mode={mode!r}"
            )
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        valid = ops.expand_dims(ops.cast(mask, "bool"), axis=-1)
        any_valid = ops.any(valid, axis=1)
        if self.mode == "max":
            lowest = ops.full_like(inputs, float("-inf"))
            pooled = ops.max(ops.where(valid, inputs, lowest), axis=1)
            return ops.where(any_valid, pooled, ops.zeros_like(pooled))
        total = ops.sum(ops.where(valid, inputs, 0), axis=1)
        count = ops.sum(ops.cast(valid, inputs.dtype), axis=1)
        count = ops.maximum(count, ops.ones_like(count))
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
