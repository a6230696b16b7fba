"""`NgramHashing` embeddings folded back onto the word positions."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasseq")
class PositionNgramSum(keras.layers.Layer):
    """Sums the embeddings of the n-grams starting at each word position.

    The ``[B, T * max_n, D]`` embeddings of the ``[B, T * max_n]``
    `NgramHashing` ids become ``[B, T, D]``: position t holds the sum of
    the embeddings of the n-grams that start at t (padding ids count as
    zero). The output mask marks the word positions (``ids != 0``).

    Args:
        max_n: int, the `NgramHashing` ``max_n`` (1, 2 or 3).
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: list ``[embeddings, ngram_ids, ids]``: the ``[B, T *
            max_n, D]`` embeddings, the ``[B, T * max_n]`` `NgramHashing`
            ids they embed and the ``[B, T]`` word ids.

    Example:

    >>> import numpy as np
    >>> ids = np.array([[2, 3, 0]])
    >>> ngram_ids = np.array([[2, 3, 0, 9, 0, 0]])
    >>> embeddings = np.ones((1, 6, 4), "float32")
    >>> out = PositionNgramSum(2)([embeddings, ngram_ids, ids])
    >>> tuple(out.shape)
    (1, 3, 4)
    """

    def __init__(self, max_n, **kwargs):
        super().__init__(**kwargs)
        if isinstance(max_n, bool) or max_n not in (1, 2, 3):
            raise ValueError(
                f"Expected max_n to be 1, 2 or 3. Received: max_n={max_n!r}"
            )
        self.max_n = max_n

    def call(self, inputs):
        embeddings, ngram_ids, _ = inputs
        valid = ops.cast(ops.not_equal(ngram_ids, 0), embeddings.dtype)
        weighted = embeddings * ops.expand_dims(valid, -1)
        blocks = ops.split(weighted, self.max_n, axis=1)
        return sum(blocks[1:], blocks[0])

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs[2], 0)

    def compute_output_shape(self, input_shape):
        embeddings_shape, _, ids_shape = input_shape
        return (embeddings_shape[0], ids_shape[1], embeddings_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"max_n": self.max_n})
        return config
