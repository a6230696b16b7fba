"""Fixed sine/cosine position encoding (Vaswani et al., 2017)."""

import keras
from keras import ops


def check_sequence_length(length, max_length):
    """Raises ValueError when a static `length` exceeds `max_length`."""
    if max_length is not None and length is not None and length > max_length:
        raise ValueError(
            f"Expected sequence length <= max_length={max_length}. "
            f"Received: sequence length={length}. Truncate the sequences "
            "(e.g. `maxlen` when padding) or raise `max_length`."
        )


@keras.saving.register_keras_serializable(package="kerasseq")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Returns the sinusoidal position encoding to add to a sequence.

    For position `pos` and feature `i` of a `[B, T, D]` input:
    `PE[pos, 2j] = sin(pos / max_wavelength^(2j / D))` and
    `PE[pos, 2j+1] = cos(pos / max_wavelength^(2j / D))`.
    Like keras-hub's layer of the same name, the layer *returns* the
    encoding, broadcast to the input's shape, and does not add it: use
    `x + SinusoidalPositionEncoding(...)(x)`. It has no weights. The
    input's mask passes through unchanged.

    Args:
        max_length: optional int, longest sequence accepted; a longer input
            of known length raises ValueError. `None` accepts any length.
        max_wavelength: float, the base of the wavelengths. Defaults to
            `10000.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: `[B, T, D]` tensor (only its shape is used).

    Example:

    >>> import numpy as np
    >>> x = np.zeros((2, 6, 4), "float32")
    >>> encoded = x + SinusoidalPositionEncoding(max_length=10)(x)
    >>> tuple(encoded.shape)
    (2, 6, 4)

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(self, max_length=None, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if max_length is not None and (
            not isinstance(max_length, int) or max_length < 1
        ):
            raise ValueError(
                "Expected `max_length` to be a positive int or None. "
                f"Received: max_length={max_length}"
            )
        if max_wavelength <= 1:
            raise ValueError(
                "Expected `max_wavelength` > 1. "
                f"Received: max_wavelength={max_wavelength}"
            )
        self.max_length = max_length
        self.max_wavelength = max_wavelength
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        check_sequence_length(inputs.shape[-2], self.max_length)
        steps, dim = ops.shape(inputs)[-2], inputs.shape[-1]
        positions = ops.cast(ops.arange(steps), "float32")
        features = ops.arange(dim)
        exponents = ops.cast(2 * (features // 2), "float32") / dim
        inverse_wavelengths = ops.power(
            ops.cast(self.max_wavelength, "float32"), -exponents
        )
        angles = ops.expand_dims(positions, 1) * inverse_wavelengths
        is_even = features % 2 == 0
        encoding = ops.where(is_even, ops.sin(angles), ops.cos(angles))
        return ops.broadcast_to(
            ops.cast(encoding, self.compute_dtype), ops.shape(inputs)
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_length": self.max_length,
                "max_wavelength": self.max_wavelength,
            }
        )
        return config
