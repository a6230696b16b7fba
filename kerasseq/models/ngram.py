"""Bag-of-n-grams classifiers (fastText-style, Joulin et al., 2016).

Word ids come in; `NgramHashing` appends hashed bigram (and trigram) ids
computed in the model with `keras.ops`, so an exported model still takes
raw strings. The ids share one masked embedding table (words first, then
`buckets` hashed n-gram rows); a masked mean over all of them feeds the
softmax head (``ngram_bag``) or a bidirectional GRU with attention
pooling reads the sequence of per-position n-gram sums (``ngram_bigru``).
`SubwordHashing` maps each word id to hashed ids of the word's character
n-grams and `BoundaryHashing` each pair of adjacent word ids to hashed
ids of the character n-grams across the space (both used by ``nbsvm``).
"""

import zlib

import keras
import numpy as np
from keras import ops

from kerasseq.errors import ConfigError
from kerasseq.models import common, hparams
from kerasseq.models.registry import HParam, register

# Odd multipliers below 2**11 and at most 2**24 buckets: `_mul_mod` then
# works in int32 without overflow on every backend.
_MULTIPLIERS = ((1543, 1031), (1907, 1237))
_MAX_BUCKETS = 2**24


def _mul_mod(x, multiplier, modulus):
    """``(x * multiplier) % modulus`` for int32 ``x >= 0``, ``multiplier <
    2**11``, ``modulus <= 2**24``, exact in int32: with ``x % modulus =
    high * 2**12 + low``, every intermediate product stays below 2**31."""
    x = ops.mod(x, modulus)
    high = ops.mod(ops.floor_divide(x, 4096) * multiplier, modulus)
    for _ in range(2):  # high * 2**12, by two steps of 2**6
        high = ops.mod(high * 64, modulus)
    return ops.mod(high + ops.mod(x, 4096) * multiplier, modulus)


def check_int(name, value, low, high=None):
    """Raises "Expected <name> to be an integer >= low [and <= high]"."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(
            f"Expected {name} to be an integer >= {low}{upper}. "
            f"Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="kerasseq")
class NgramHashing(keras.layers.Layer):
    """Appends hashed n-gram ids to right-padded word ids.

    ``[B, T]`` word ids (0 = padding, all ids ``< vocab_size``) become
    ``[B, T * max_n]``: the word ids, then for ``n = 2..max_n`` the id
    ``vocab_size + hash(w_t, ..., w_{t+n-1}) % buckets`` of every n-gram
    that lies entirely in the non-padded part (0 elsewhere). The n-gram
    blocks are padded with zeros to length ``T``, so 0 stays padding.

    Args:
        vocab_size: number of word ids (``Tokenizer.vocab_size``).
        buckets: number of hashed n-gram ids, at most ``2**24``.
        max_n: longest n-gram, 1 (words only), 2 or 3.
    """

    def __init__(self, vocab_size, buckets=2**20, max_n=2, **kwargs):
        super().__init__(**kwargs)
        for name, value, low, high in (
            ("vocab_size", vocab_size, 3, None),
            ("buckets", buckets, 1, _MAX_BUCKETS),
            ("max_n", max_n, 1, 3),
        ):
            check_int(name, value, low, high)
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.max_n = max_n

    def _mix(self, left, right, multipliers):
        return ops.mod(
            _mul_mod(left, multipliers[0], self.buckets)
            + _mul_mod(right, multipliers[1], self.buckets),
            self.buckets,
        )

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")
        blocks = [ids]
        hashed = ids
        valid = ops.not_equal(ids, 0)
        for n in range(2, self.max_n + 1):
            hashed = self._mix(hashed[:, :-1], ids[:, n - 1 :],
                               _MULTIPLIERS[n - 2])
            valid = ops.logical_and(valid[:, :-1], valid[:, 1:])
            ngram_ids = ops.where(valid, hashed + self.vocab_size, 0)
            blocks.append(ops.pad(ngram_ids, [[0, 0], [0, n - 1]]))
        return ops.concatenate(blocks, axis=1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.max_n)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "buckets": self.buckets,
            "max_n": self.max_n,
        }


class AdaptedLayer(keras.layers.Layer):
    """Base of layers whose non-trainable tables are set from data.

    Such a layer computes nothing useful until its adapt method
    (`adapt_call`, e.g. ``adapt_to_vocabulary(tokenizer.vocabulary)``)
    has filled its tables: they start at 0. `kerasseq.training.train`
    adapts every such layer; in your own ``model.fit`` code, training an
    unadapted one raises an error instead of silently fitting a model
    that ignores its inputs. Loading saved weights into the layer
    (``load_model``, ``load_weights``, the layer's ``set_weights``)
    counts as adapted when the loaded tables are not all 0.
    """

    adapt_call = ""

    def _mark_adapted(self):
        self._adapted = True

    def _check_adapted(self, training):
        if training and not getattr(self, "_adapted", False):
            raise ConfigError(
                f"Expected {type(self).__name__} {self.name!r} to be adapted "
                f"with `{self.adapt_call}` before training (kerasseq.train "
                "does it; in your own code call it before model.fit, on a "
                "newly built model: this failed step leaves the model "
                "unusable). Received: a layer whose tables were never set "
                "(by adapting it or by loading saved weights into it)."
            )

    def _adapted_from_values(self):
        self._adapted = any(
            np.any(ops.convert_to_numpy(variable.value))
            for variable in self.non_trainable_variables
        )

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._adapted_from_values()

    def set_weights(self, weights):
        super().set_weights(weights)
        self._adapted_from_values()


def _prepare_for_vocabulary(layer, vocabulary):
    """Checks that `vocabulary` (the words of ids 2, 3, ...) fits the
    layer's ``vocab_size`` and builds the layer if it is not built."""
    if len(vocabulary) + 2 > layer.vocab_size:
        raise ValueError(
            f"Expected at most {layer.vocab_size - 2} words (vocab_size "
            f"{layer.vocab_size} minus padding and OOV). Received "
            f"{len(vocabulary)} words."
        )
    if not layer.built:
        layer.build((None, None))


def _char_ngram_ids(word, min_n, max_n, buckets):
    """Hashed ids (``crc32 % buckets``) of the character n-grams of
    ``<word>``, shortest n first, each distinct n-gram once."""
    marked = f"<{word}>"
    seen = {}
    for n in range(min_n, max_n + 1):
        for start in range(len(marked) - n + 1):
            gram = marked[start : start + n]
            seen.setdefault(gram, zlib.crc32(gram.encode("utf-8")) % buckets)
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
    vocabulary by `adapt_to_vocabulary` (which `kerasseq.training.train`
    calls), so a saved model keeps them and the export still takes raw
    strings. Before that the table is all 0 (no n-grams) and training
    the layer raises an error (`AdaptedLayer`).

    Args:
        vocab_size: number of word ids (``Tokenizer.vocab_size``).
        buckets: number of hashed n-gram ids, at most ``2**24``.
        min_n: shortest n-gram (characters, ``<``/``>`` included), >= 1.
        max_n: longest n-gram, >= `min_n`.
        max_per_word: n-gram slots per word.
        offset: added to every n-gram id (ids before it are used by
            words and word n-grams).

    Example:

    >>> layer = SubwordHashing(vocab_size=4, buckets=100, max_per_word=8)
    >>> layer.adapt_to_vocabulary(["fun", "funny"])
    >>> layer(np.array([[2, 3, 0]])).shape
    (1, 24)
    """

    adapt_call = "adapt_to_vocabulary(tokenizer.vocabulary)"

    def __init__(self, vocab_size, buckets=2**20, min_n=2, max_n=5,
                 max_per_word=48, offset=0, **kwargs):
        super().__init__(**kwargs)
        for name, value, low, high in (
            ("vocab_size", vocab_size, 3, None),
            ("buckets", buckets, 1, _MAX_BUCKETS),
            ("min_n", min_n, 1, None),
            ("max_n", max_n, min_n, None),
            ("max_per_word", max_per_word, 1, None),
            ("offset", offset, 0, 2**31 - 1 - _MAX_BUCKETS),
        ):
            check_int(name, value, low, high)
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
        _prepare_for_vocabulary(self, vocabulary)
        table = np.zeros((self.vocab_size, self.max_per_word), "int32")
        for index, word in enumerate(vocabulary, start=2):
            ids = _char_ngram_ids(word, self.min_n, self.max_n, self.buckets)
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
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "buckets": self.buckets,
            "min_n": self.min_n,
            "max_n": self.max_n,
            "max_per_word": self.max_per_word,
            "offset": self.offset,
        }


def _affix_pairs(max_n):
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
    max_n`` gets the id ``offset + mix(crc32(u[-a:]), crc32(v[:b])) %
    buckets``: the character n-grams a character-level model sees across
    the space ("ing fo", "t funn"), computed from word ids. ``[B, T]``
    ids become ``[B, (T - 1) * K]`` ids, ``K = (max_n - 2) * (max_n -
    1) / 2`` per word pair; 0 stands for padding, for pairs with an
    out-of-vocabulary or padding id, and for affixes longer than a word.

    The per-word affix hashes are non-trainable int32 tables set from the
    vocabulary by `adapt_to_vocabulary` (which `kerasseq.training.train`
    calls); before that every id is 0 and training the layer raises an
    error (`AdaptedLayer`).

    Args:
        vocab_size: number of word ids (``Tokenizer.vocab_size``).
        buckets: number of hashed n-gram ids, at most ``2**24``.
        max_n: longest n-gram, space included, >= 3.
        offset: added to every n-gram id (use >= 1 when no other ids
            come first, so that no n-gram gets the padding id 0).

    Example:

    >>> layer = BoundaryHashing(vocab_size=4, buckets=100, max_n=4)
    >>> layer.adapt_to_vocabulary(["very", "funny"])
    >>> layer(np.array([[2, 3, 0]])).shape
    (1, 6)
    """

    adapt_call = "adapt_to_vocabulary(tokenizer.vocabulary)"

    def __init__(self, vocab_size, buckets=2**20, max_n=7, offset=0,
                 **kwargs):
        super().__init__(**kwargs)
        for name, value, low, high in (
            ("vocab_size", vocab_size, 3, None),
            ("buckets", buckets, 1, _MAX_BUCKETS),
            ("max_n", max_n, 3, None),
            ("offset", offset, 0, 2**31 - 1 - _MAX_BUCKETS),
        ):
            check_int(name, value, low, high)
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.max_n = max_n
        self.offset = offset
        self._suffix_index, self._prefix_index = _affix_pairs(max_n)

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
        _prepare_for_vocabulary(self, vocabulary)
        shape = (self.vocab_size, self.max_n - 2)
        suffixes, prefixes = np.zeros(shape, "int32"), np.zeros(shape, "int32")
        for index, word in enumerate(vocabulary, start=2):
            for length in range(1, min(len(word), self.max_n - 2) + 1):
                for table, affix in ((suffixes, word[-length:]),
                                     (prefixes, word[:length])):
                    table[index, length - 1] = 1 + zlib.crc32(
                        affix.encode("utf-8")) % self.buckets
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
        mixed = ops.mod(
            _mul_mod(left - 1, _MULTIPLIERS[0][0], self.buckets)
            + _mul_mod(right - 1, _MULTIPLIERS[0][1], self.buckets),
            self.buckets,
        )
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
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "buckets": self.buckets,
            "max_n": self.max_n,
            "offset": self.offset,
        }


@keras.saving.register_keras_serializable(package="kerasseq")
class TokenDropout(keras.layers.Layer):
    """Sets each non-padding id to 0 (padding) with probability `rate`.

    Word dropout (Iyyer et al., 2015) for bag models: only in training.

    Args:
        rate: float in ``[0, 1)``, the share of ids dropped.
        seed: optional int seed.
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
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _ngram_embedding(ids, vocab_size, hp):
    ngram_ids = NgramHashing(
        vocab_size, hp["buckets"], hp["max_n"], name="ngram_hashing"
    )(ids)
    if hp["token_dropout"] > 0:
        ngram_ids = TokenDropout(hp["token_dropout"], name="token_dropout")(
            ngram_ids
        )
    embedding = keras.layers.Embedding(
        vocab_size + hp["buckets"],
        hp["embedding_dim"],
        mask_zero=True,
        embeddings_regularizer=_l2(hp),
        name="ngram_embedding",
    )
    return ngram_ids, embedding


def _l2(hp):
    return keras.regularizers.L2(hp["l2"]) if hp["l2"] > 0 else None


def _ngram_hparams(embedding_dim, dropout):
    return {
        "embedding_dim": hparams.embedding_dim(embedding_dim),
        "max_n": HParam(2, "longest word n-gram", low=1, high=3),
        "buckets": hparams.buckets(2**18),
        "dropout": hparams.dropout(dropout),
        "token_dropout": hparams.rate(
            0.0, "share of word and n-gram ids dropped in training"),
        "l2": hparams.l2(0.0, "L2 penalty on the n-gram embeddings"),
    }


@register(
    "ngram_bag",
    "fastText-style bag of word + hashed bigram/trigram embeddings, "
    "masked mean, softmax head",
    {**_ngram_hparams(16, 0.0), **hparams.head()},
)
def _ngram_bag(ids, vocab_size, num_classes, hp):
    ngram_ids, embedding = _ngram_embedding(ids, vocab_size, hp)
    x = common.pool(embedding(ngram_ids), "mean")
    x = common.dropout(x, hp, "pooled_dropout")
    return common.classify(x, num_classes, hp)


@keras.saving.register_keras_serializable(package="kerasseq")
class PositionNgramSum(keras.layers.Layer):
    """Folds `NgramHashing` embeddings back onto word positions.

    Called on ``[embeddings, ngram_ids, ids]``: the ``[B, T * max_n, D]``
    embeddings of the ``[B, T * max_n]`` `NgramHashing` ids become
    ``[B, T, D]``: position t holds the sum of the embeddings of the
    n-grams that start at t (padding ids count as zero). The output mask
    marks the word positions (``ids != 0``).

    Args:
        max_n: the `NgramHashing` ``max_n`` (1, 2 or 3).
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
        return {**super().get_config(), "max_n": self.max_n}


@register(
    "ngram_bigru",
    "Word + hashed n-gram embeddings summed per position -> BiGRU -> "
    "attention pooling (+ n-gram bag mean), softmax head",
    {
        **_ngram_hparams(64, 0.3),
        "units": hparams.units(64),
        "bag_skip": HParam(True, "also feed the n-gram bag mean to the head"),
        **hparams.head(),
    },
)
def _ngram_bigru(ids, vocab_size, num_classes, hp):
    ngram_ids, embedding = _ngram_embedding(ids, vocab_size, hp)
    x = PositionNgramSum(hp["max_n"], name="position_ngram_sum")(
        [embedding(ngram_ids), ngram_ids, ids]
    )
    x = common.dropout(x, hp, "embedding_dropout")
    states = keras.layers.Bidirectional(
        keras.layers.GRU(hp["units"], return_sequences=True, name="gru"),
        name="bigru",
    )(x)
    features = common.pool(states, "attention")
    if hp["bag_skip"]:
        bag = common.pool(x, "mean")
        features = keras.layers.Concatenate(name="features")([features, bag])
    features = common.dropout(features, hp, "pooled_dropout")
    return common.classify(features, num_classes, hp)
