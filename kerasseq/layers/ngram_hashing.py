"""Hashed word n-gram ids appended to word ids (fastText's bigrams)."""

import keras
from keras import ops

from kerasseq.layers.arguments import check_int
from kerasseq.layers.hashing import MAX_BUCKETS, MULTIPLIERS, mix


@keras.saving.register_keras_serializable(package="kerasseq")
class NgramHashing(keras.layers.Layer):
    """Appends hashed n-gram ids to right-padded word ids.

    ``[B, T]`` word ids (0 = padding, all ids ``< vocab_size``) become
    ``[B, T * max_n]``: the word ids, then for ``n = 2..max_n`` the id
    ``vocab_size + h_n`` of every n-gram that lies entirely in the
    non-padded part (0 elsewhere), with ``h_1 = w_t`` and ``h_k = (h_{k-1}
    * m1 + w_{t+k-1} * m2) % buckets`` (both terms taken ``% buckets``;
    ``(m1, m2)`` = (1543, 1031) for bigrams, (1907, 1237) for trigrams).
    The hash is computed in the model with `keras.ops`, so an exported
    model still takes raw strings. The n-gram blocks are padded with
    zeros to length ``T``, so 0 stays padding.

    Args:
        vocab_size: int, number of word ids (``Tokenizer.vocab_size``).
        buckets: int, number of hashed n-gram ids, at most ``2**24``.
            Defaults to ``2**20``.
        max_n: int, longest n-gram, 1 (words only), 2 or 3. Defaults to 2.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, T]`` int word ids, right padded with 0.

    Example:

    >>> import numpy as np
    >>> layer = NgramHashing(vocab_size=10, buckets=16, max_n=2)
    >>> tuple(layer(np.array([[2, 3, 4, 0]])).shape)
    (1, 8)

    References:
        - [Joulin et al., 2016](https://arxiv.org/abs/1607.01759)
    """

    def __init__(self, vocab_size, buckets=2**20, max_n=2, **kwargs):
        super().__init__(**kwargs)
        check_int("vocab_size", vocab_size, 3)
        check_int("buckets", buckets, 1, MAX_BUCKETS)
        check_int("max_n", max_n, 1, 3)
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.max_n = max_n

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        blocks = [ids]
        hashed = ids
        valid = ops.not_equal(ids, 0)
        for n in range(2, self.max_n + 1):
            hashed = mix(
                hashed[:, :-1], ids[:, n - 1 :], MULTIPLIERS[n - 2],
                self.buckets,
            )
            valid = ops.logical_and(valid[:, :-1], valid[:, 1:])
            ngram_ids = ops.where(valid, hashed + self.vocab_size, 0)
            blocks.append(ops.pad(ngram_ids, [[0, 0], [0, n - 1]]))
        return ops.concatenate(blocks, axis=1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.max_n)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "buckets": self.buckets,
                "max_n": self.max_n,
            }
        )
        return config
