"""Word dropout: whole tokens replaced by padding or by OOV."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class TokenDropout(keras.layers.Layer):
    """Replaces each non-padding id by `replacement` with probability
    `rate`.

    Word dropout (Iyyer et al., 2015), active only in training; in
    inference the ids pass unchanged. Padding (0) is never changed.
    Replacement 0 drops the token (bag models); 1 (out-of-vocabulary)
    keeps sequences right-padded for recurrent models.

    Args:
        rate: float in ``[0, 1)``, the share of ids dropped.
        seed: optional int, seed of the dropout.
        replacement: int, the id a dropped token becomes (default 0).
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

    def __init__(self, rate, seed=None, replacement=0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(
                f"Expected rate to be a number in [0, 1). Received: "
                f"rate={rate!r}"
            )
        self.rate = float(rate)
        self.seed = seed
        self.replacement = int(replacement)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = keras.random.uniform(
            ops.shape(inputs), seed=self.seed_generator
        ) >= self.rate
        keep = ops.logical_or(keep, ops.equal(inputs, 0))
        return ops.where(keep, inputs,
                         ops.full_like(inputs, self.replacement))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed,
                       "replacement": self.replacement})
        return config
