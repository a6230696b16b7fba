"""NBSVM as a Keras model: naive Bayes log-count ratios, learned weights.

Wang & Manning (2012) scale binarized n-gram features by their naive
Bayes log-count ratio ``r`` and fit a linear classifier on top.
`kerasseq.layers.LogCountRatioLogits` does this inside a Keras model, for
any number of classes (one-vs-rest ratios): ``logit_c = sum_g r[g, c] * (prior +
w[g, c]) + b_c`` over the distinct ids ``g`` of a text, with ``w``
trained from 0 with an optional L2 penalty. With ``prior=0`` (the
``nbsvm`` default) this is NBSVM's logistic regression on ratio-scaled
binary features; ``prior > 0`` starts at, and pulls back towards, naive
Bayes with weight `prior`. With ``interpolation`` (Wang & Manning's
``beta``) < 1, once training ends the learned weights are interpolated
with their mean magnitude, which mixes naive Bayes back in. With
``subword_max_n`` > 0 the character n-grams of every word
(`SubwordHashing`) are features too, with ``boundary_max_n`` > 0 the
character n-grams across adjacent words (`BoundaryHashing`), and
``max_n=0`` drops the word features (a character view of the text, from
word ids). The ratios come from the training labels:
`kerasseq.train` adapts the layer to the training split before fitting
(no pre-trained or test data involved).
"""

import keras

from kerasseq.layers import (
    BoundaryHashing,
    LogCountRatioLogits,
    NgramHashing,
    SubwordHashing,
)
from kerasseq.models import hparams
from kerasseq.models.registry import HParam, register


def _some_features(hp):
    if not (hp["max_n"] or hp["subword_max_n"] or hp["boundary_max_n"]):
        return (
            "expected at least one kind of feature: max_n >= 1 (words), "
            "subword_max_n > 0 or boundary_max_n > 0; got all three 0"
        )
    return None


def _subword_lengths_ordered(hp):
    if 0 < hp["subword_max_n"] < hp["subword_min_n"]:
        return (
            "'subword_max_n' must be 0 or >= subword_min_n="
            f"{hp['subword_min_n']}; got {hp['subword_max_n']}"
        )
    return None


@register(
    "nbsvm",
    "NBSVM: naive Bayes log-count ratios of distinct words + hashed "
    "n-grams (+ character n-grams of and across words), learned weights, "
    "softmax",
    {
        "max_n": HParam(3, "longest word n-gram (0: no word features)",
                        low=0, high=3),
        "buckets": hparams.buckets(2**20),
        "subword_min_n": HParam(2, "shortest character n-gram of a word",
                                low=1, search=(1, 3)),
        "subword_max_n": HParam(0, "longest character n-gram of a word "
                                "(0: none)", low=0, search=(0, 6)),
        "subword_buckets": hparams.buckets(
            2**20, "hashed character n-gram ids of words"),
        "boundary_max_n": HParam(0, "longest character n-gram across two "
                                 "words, space included (0: none)",
                                 low=3, off=0, search=(3, 8)),
        "boundary_buckets": hparams.buckets(
            2**20, "hashed character n-gram ids across words"),
        "prior": HParam(0.0, "weight of the naive Bayes ratios at w = 0",
                        low=0.0, search=(0.0, 1.0)),
        "smoothing": HParam(1.0, "count added to every id and class",
                            low=0.0, low_open=True, search=(0.1, 4.0),
                            log=True),
        "l2": hparams.l2(0.0, "L2 penalty on the learned weights"),
        "interpolation": HParam(1.0, "Wang & Manning's beta (1: none)",
                                low=0.0, low_open=True, high=1.0,
                                search=(0.1, 1.0)),
    },
    checks=(_some_features, _subword_lengths_ordered),
)
def _nbsvm(ids, vocab_size, num_classes, hp):
    features = []
    input_dim = 1  # id 0: padding
    if hp["max_n"]:
        features.append(NgramHashing(
            vocab_size, hp["buckets"], hp["max_n"], name="ngram_hashing"
        )(ids))
        input_dim = vocab_size + hp["buckets"]
    if hp["subword_max_n"]:
        features.append(SubwordHashing(
            vocab_size, hp["subword_buckets"], hp["subword_min_n"],
            hp["subword_max_n"], offset=input_dim, name="subword_hashing",
        )(ids))
        input_dim += hp["subword_buckets"]
    if hp["boundary_max_n"]:
        features.append(BoundaryHashing(
            vocab_size, hp["boundary_buckets"], hp["boundary_max_n"],
            offset=input_dim, name="boundary_hashing",
        )(ids))
        input_dim += hp["boundary_buckets"]
    if len(features) > 1:
        features = [keras.layers.Concatenate(name="features")(features)]
    logits = LogCountRatioLogits(
        input_dim, num_classes, prior=hp["prior"],
        smoothing=hp["smoothing"], l2=hp["l2"],
        interpolation=hp["interpolation"], name="log_count_ratio_logits",
    )(features[0])
    return keras.layers.Activation(
        "softmax", dtype="float32", name="classifier"
    )(logits)
