"""Hashed character n-gram ids of each word id (fastText subwords)."""

import keras
import numpy as np
from keras import ops

from kerasseq.layers.adapted_layer import AdaptedLayer
from kerasseq.layers.arguments import check_int
from kerasseq.layers.hashing import (
    MAX_BUCKETS,
    MAX_OFFSET,
    check_vocabulary_fits,
    crc32_bucket,
)


def char_ngram_ids(word, min_n, max_n, buckets):
    """Hashed ids (``crc32 % buckets``) of the character n-grams of
    ``<word>``, shortest n first, each distinct n-gram once."""
    marked = f"<{word}>"
    seen = {}
    for n in range(min_n, max_n + 1):
        for start in range(len(marked) - n + 1):
            gram = marked[start : start + n]
            seen.setdefault(gram, crc32_bucket(gram, buckets))
    return list(seen.values())


@keras.saving.register_keras_serializable(package="kerasseq")
class SubwordHashing(AdaptedLayer):
    """Hashed character n-gram ids of each word id (fastText subwords).

    ``[B, T]`` word ids become ``[B, T * max_per_word]`` ids: for each
    word, ``offset + crc32(g) % buckets`` for its character n-grams ``g``
    of ``min_n..max_n`` characters, the word written as ``<word>`` (so
    prefixes and suffixes differ from inner n-grams), shortest first and
    at most `max_per_word` of them; 0 fills the unused slots and stands
    for padding and out-of-vocabulary ids. Unseen inflections of training
    words ("unfunny", "overlong") share n-grams with them.

    The per-word ids are a non-trainable int32 table set from the
    vocabulary by `adapt_to_vocabulary` (an `AdaptedLayer` hook, which
    `kerasseq.train` runs), so a saved model keeps them and the export
    still takes raw strings. Before that the table is all 0 (no n-grams)
    and training the layer raises an error.

    Args:
        vocab_size: int, number of word ids (``Tokenizer.vocab_size``).
        buckets: int, number of hashed n-gram ids, at most ``2**24``.
            Defaults to ``2**20``.
        min_n: int, shortest n-gram (characters, ``<``/``>`` included),
            >= 1. Defaults to 2.
        max_n: int, longest n-gram, >= `min_n`. Defaults to 5.
        max_per_word: int, n-gram slots per word. Defaults to 48.
        offset: int, added to every n-gram id (ids before it are used by
            words and word n-grams). Defaults to 0.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, T]`` int word ids (0 = padding, 1 = OOV).
        training: bool; training an unadapted layer raises an error.

    Example:

    >>> import numpy as np
    >>> layer = SubwordHashing(vocab_size=4, buckets=100, max_per_word=8)
    >>> layer.adapt_to_vocabulary(["fun", "funny"])
    >>> tuple(layer(np.array([[2, 3, 0]])).shape)
    (1, 24)

    References:
        - [Bojanowski et al., 2017](https://arxiv.org/abs/1607.04606)
    """

    adapts_to_vocabulary = True

    def __init__(self, vocab_size, buckets=2**20, min_n=2, max_n=5,
                 max_per_word=48, offset=0, **kwargs):
        super().__init__(**kwargs)
        check_int("vocab_size", vocab_size, 3)
        check_int("buckets", buckets, 1, MAX_BUCKETS)
        check_int("min_n", min_n, 1)
        check_int("max_n", max_n, min_n)
        check_int("max_per_word", max_per_word, 1)
        check_int("offset", offset, 0, MAX_OFFSET)
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.min_n = min_n
        self.max_n = max_n
        self.max_per_word = max_per_word
        self.offset = offset

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(self.vocab_size, self.max_per_word), dtype="int32",
            initializer="zeros", trainable=False, name="table",
        )

    def adapt_to_vocabulary(self, vocabulary):
        """Fills the table from the words of ids 2, 3, ... in order
        (`kerasseq.text.Tokenizer.vocabulary`; id 0 is padding, 1 OOV)."""
        check_vocabulary_fits(self, vocabulary)
        table = np.zeros((self.vocab_size, self.max_per_word), "int32")
        for index, word in enumerate(vocabulary, start=2):
            ids = char_ngram_ids(word, self.min_n, self.max_n, self.buckets)
            ids = ids[: self.max_per_word]
            table[index, : len(ids)] = np.asarray(ids) + self.offset
        self.table.assign(table)
        self._mark_adapted()

    def call(self, inputs, training=None):
        self._check_adapted(training)
        ids = ops.cast(inputs, "int32")
        grams = ops.take(self.table, ids, axis=0)
        return ops.reshape(
            grams, (-1, ops.shape(ids)[1] * self.max_per_word)
        )

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (
            input_shape[0],
            None if steps is None else steps * self.max_per_word,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "buckets": self.buckets,
                "min_n": self.min_n,
                "max_n": self.max_n,
                "max_per_word": self.max_per_word,
                "offset": self.offset,
            }
        )
        return config
