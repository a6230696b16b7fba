"""Word dropout for bag models: ids replaced by padding."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class TokenDropout(keras.layers.Layer):
    """Sets each non-padding id to 0 (padding) with probability `rate`.

    Word dropout (Iyyer et al., 2015) for bag models, active only in
    training; in inference the ids pass unchanged.

    Args:
        rate: float in ``[0, 1)``, the share of ids dropped.
        seed: optional int, seed of the dropout.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, T]`` int ids, 0 = padding.
        training: bool, whether ids are dropped.

    Example:

    >>> import numpy as np
    >>> layer = TokenDropout(0.5, seed=0)
    >>> ids = np.array([[2, 3, 4, 0]])
    >>> bool((layer(ids, training=False) == ids).all())
    True

    References:
        - [Iyyer et al., 2015](https://aclanthology.org/P15-1162/)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"Expected rate to be a number in [0, 1). Received: "
                f"rate={rate!r}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(
            ops.shape(inputs), seed=self.seed_generator
        ) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
