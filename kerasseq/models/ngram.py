"""Bag-of-n-grams classifiers (fastText-style, Joulin et al., 2016).

Word ids come in; `kerasseq.layers.NgramHashing` appends hashed bigram
(and trigram) ids computed in the model, so an exported model still takes
raw strings. The ids share one masked embedding table (words first, then
`buckets` hashed n-gram rows); a masked mean over all of them feeds the
softmax head (``ngram_bag``) or a bidirectional GRU with attention
pooling reads the sequence of per-position n-gram sums (``ngram_bigru``).
"""

import keras

from kerasseq.layers import NgramHashing, PositionNgramSum, TokenDropout
from kerasseq.models import common, hparams
from kerasseq.models.registry import HParam, register


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
