"""Hashed ids of the character n-grams spanning two adjacent words."""

import keras
import numpy as np
from keras import ops

from kerasseq.layers.adapted_layer import AdaptedLayer
from kerasseq.layers.arguments import check_int
from kerasseq.layers.hashing import (
    MAX_BUCKETS,
    MAX_OFFSET,
    MULTIPLIERS,
    check_vocabulary_fits,
    crc32_bucket,
    mix,
)


def affix_pairs(max_n):
    """The (suffix length, prefix length) pairs of `BoundaryHashing`:
    ``a, b >= 1`` and ``a + 1 + b <= max_n``, as two index lists."""
    pairs = [(a, b) for a in range(1, max_n - 1)
             for b in range(1, max_n - a)]
    return [a - 1 for a, _ in pairs], [b - 1 for _, b in pairs]


@keras.saving.register_keras_serializable(package="kerasseq")
class BoundaryHashing(AdaptedLayer):
    """Hashed ids of the character n-grams spanning two adjacent words.

    For adjacent word ids ``u, v`` (both in the vocabulary), every string
    ``u[-a:] + " " + v[:b]`` with ``a, b >= 1`` and ``a + 1 + b <=
    max_n`` gets the id ``offset + (crc32(u[-a:]) % buckets * 1543 +
    crc32(v[:b]) % buckets * 1031) % buckets``: the character n-grams a
    character-level model sees across the space ("ing fo", "t funn"),
    computed from word ids. ``[B, T]`` ids become ``[B, (T - 1) * K]``
    ids, ``K = (max_n - 2) * (max_n - 1) / 2`` per word pair; 0 stands
    for padding, for pairs with an out-of-vocabulary or padding id, and
    for affixes longer than a word.

    The per-word affix hashes are non-trainable int32 tables set from the
    vocabulary by `adapt_to_vocabulary` (an `AdaptedLayer` hook, which
    `kerasseq.train` runs); before that every id is 0 and training the
    layer raises an error.

    Args:
        vocab_size: int, number of word ids (``Tokenizer.vocab_size``).
        buckets: int, number of hashed n-gram ids, at most ``2**24``.
            Defaults to ``2**20``.
        max_n: int, longest n-gram, space included, >= 3. Defaults to 7.
        offset: int, added to every n-gram id (use >= 1 when no other ids
            come first, so that no n-gram gets the padding id 0).
            Defaults to 0.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, T]`` int word ids (0 = padding, 1 = OOV).
        training: bool; training an unadapted layer raises an error.

    Example:

    >>> import numpy as np
    >>> layer = BoundaryHashing(vocab_size=4, buckets=100, max_n=4)
    >>> layer.adapt_to_vocabulary(["very", "funny"])
    >>> tuple(layer(np.array([[2, 3, 0]])).shape)
    (1, 6)
    """

    adapts_to_vocabulary = True

    def __init__(self, vocab_size, buckets=2**20, max_n=7, offset=0,
                 **kwargs):
        super().__init__(**kwargs)
        check_int("vocab_size", vocab_size, 3)
        check_int("buckets", buckets, 1, MAX_BUCKETS)
        check_int("max_n", max_n, 3)
        check_int("offset", offset, 0, MAX_OFFSET)
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.max_n = max_n
        self.offset = offset
        self._suffix_index, self._prefix_index = affix_pairs(max_n)

    def build(self, input_shape):
        # Entry [w, a - 1]: crc32 of the last (first) a characters of word
        # w, % buckets, + 1; 0 where the word is shorter than a.
        shape = (self.vocab_size, self.max_n - 2)
        self.suffixes = self.add_weight(
            shape=shape, dtype="int32", initializer="zeros",
            trainable=False, name="suffixes",
        )
        self.prefixes = self.add_weight(
            shape=shape, dtype="int32", initializer="zeros",
            trainable=False, name="prefixes",
        )

    def adapt_to_vocabulary(self, vocabulary):
        """Fills the tables from the words of ids 2, 3, ... in order
        (`kerasseq.text.Tokenizer.vocabulary`; id 0 is padding, 1 OOV)."""
        check_vocabulary_fits(self, vocabulary)
        shape = (self.vocab_size, self.max_n - 2)
        suffixes, prefixes = np.zeros(shape, "int32"), np.zeros(shape, "int32")
        for index, word in enumerate(vocabulary, start=2):
            for length in range(1, min(len(word), self.max_n - 2) + 1):
                for table, affix in ((suffixes, word[-length:]),
                                     (prefixes, word[:length])):
                    table[index, length - 1] = 1 + crc32_bucket(
                        affix, self.buckets
                    )
        self.suffixes.assign(suffixes)
        self.prefixes.assign(prefixes)
        self._mark_adapted()

    def call(self, inputs, training=None):
        self._check_adapted(training)
        ids = ops.cast(inputs, "int32")
        left = ops.take(ops.take(self.suffixes, ids[:, :-1], axis=0),
                        self._suffix_index, axis=2)
        right = ops.take(ops.take(self.prefixes, ids[:, 1:], axis=0),
                         self._prefix_index, axis=2)
        valid = ops.logical_and(left > 0, right > 0)
        mixed = mix(left - 1, right - 1, MULTIPLIERS[0], self.buckets)
        grams = ops.where(valid, mixed + self.offset, 0)
        pairs = len(self._suffix_index)
        return ops.reshape(grams, (-1, (ops.shape(ids)[1] - 1) * pairs))

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        pairs = len(self._suffix_index)
        return (
            input_shape[0],
            None if steps is None else max(steps - 1, 0) * pairs,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "buckets": self.buckets,
                "max_n": self.max_n,
                "offset": self.offset,
            }
        )
        return config
