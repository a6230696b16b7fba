"""NBSVM as a Keras model: naive Bayes log-count ratios, learned weights.

Wang & Manning (2012) scale binarized n-gram features by their naive
Bayes log-count ratio ``r`` and fit a linear classifier on top.
`LogCountRatioLogits` does this inside a Keras model, for any number of
classes (one-vs-rest ratios): ``logit_c = sum_g r[g, c] * (prior +
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
`kerasseq.training.train` calls `adapt_to_labels` on the training split
before fitting (no pre-trained or test data involved).
"""

import keras
import numpy as np
from keras import ops

from kerasseq.models import hparams
from kerasseq.models.ngram import (
    AdaptedLayer,
    BoundaryHashing,
    NgramHashing,
    SubwordHashing,
    check_int,
)
from kerasseq.models.registry import HParam, register


def _first_occurrences(ids):
    """Sorted ``ids`` per row and a mask of each distinct non-zero id."""
    ordered = ops.sort(ids, axis=-1)
    changed = ops.not_equal(ordered[:, 1:], ordered[:, :-1])
    first = ops.concatenate(
        [ops.ones_like(changed[:, :1]), changed], axis=1
    )
    return ordered, ops.logical_and(first, ops.not_equal(ordered, 0))


@keras.saving.register_keras_serializable(package="kerasseq")
class LogCountRatioLogits(AdaptedLayer):
    """Class logits from naive Bayes log-count ratios of distinct ids.

    Takes ``[B, L]`` int ids (0 = padding; repeats count once) and returns
    ``[B, num_classes]`` logits ``sum_g r[g] * (prior + nb + w[g]) +
    bias``. The ratios ``r`` are a non-trainable weight set by
    `adapt_to_labels`; before that they are 0 and so are the logits.
    ``nb`` (per class, non-trainable, 0 until then) is set by
    `finish_training` after fitting: Wang & Manning's interpolation
    ``w' = (1 - beta) * mean|w| + beta * w`` (``w`` here: ``prior + w``)
    divided by ``beta``, i.e. ``nb = (1 - beta) / beta * mean|w|``, so
    that the learned part keeps its scale. `kerasseq.training.train`
    calls both methods; with your own ``model.fit``, call
    ``adapt_to_labels`` before (training an unadapted layer raises an
    error, see `AdaptedLayer`) and ``finish_training`` after it.

    Args:
        input_dim: number of ids (largest id + 1).
        num_classes: number of classes (2 or more).
        prior: weight of the naive Bayes ratios at ``w = 0``.
        smoothing: the count added to every id and class (Laplace
            smoothing ``alpha``).
        l2: L2 penalty on the learned offsets ``w``.
        interpolation: ``beta`` in (0, 1]; 1 (no interpolation) keeps
            the trained weights as they are. Wang & Manning use 0.25.

    Example:

    >>> layer = LogCountRatioLogits(input_dim=10, num_classes=2)
    >>> ids, labels = np.array([[2, 3, 0], [4, 5, 5]]), np.array([1, 0])
    >>> layer.adapt_to_labels([(ids, labels)])
    >>> layer(np.array([[2, 3, 3]])).shape
    (1, 2)
    >>> layer.finish_training()  # after fitting: interpolation

    References:
        Wang & Manning, "Baselines and Bigrams: Simple, Good Sentiment and
        Topic Classification", ACL 2012.
    """

    adapt_call = "adapt_to_labels([(ids, labels), ...])"

    def __init__(self, input_dim, num_classes, prior=0.0, smoothing=1.0,
                 l2=0.0, interpolation=1.0, **kwargs):
        super().__init__(**kwargs)
        check_int("input_dim", input_dim, 2)
        check_int("num_classes", num_classes, 2)
        for name, value in (("prior", prior), ("smoothing", smoothing),
                            ("l2", l2)):
            if isinstance(value, bool) or not isinstance(
                    value, (int, float)) or value < 0 or (
                    name == "smoothing" and value == 0):
                bound = "> 0" if name == "smoothing" else ">= 0"
                raise ValueError(
                    f"Expected {name} to be a number {bound}. "
                    f"Received: {name}={value!r}"
                )
        if isinstance(interpolation, bool) or not isinstance(
                interpolation, (int, float)) or not 0 < interpolation <= 1:
            raise ValueError(
                "Expected interpolation to be a number in (0, 1]. "
                f"Received: interpolation={interpolation!r}"
            )
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.prior = float(prior)
        self.smoothing = float(smoothing)
        self.l2 = float(l2)
        self.interpolation = float(interpolation)

    def build(self, input_shape):
        shape = (self.input_dim, self.num_classes)
        self.ratios = self.add_weight(
            shape=shape, initializer="zeros", trainable=False, name="ratios"
        )
        self.offsets = self.add_weight(
            shape=shape,
            initializer="zeros",
            regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            name="offsets",
        )
        self.bias = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", name="bias"
        )
        self.naive_bayes_weights = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", trainable=False,
            name="naive_bayes_weights",
        )

    def call(self, inputs, training=None):
        self._check_adapted(training)
        ids, present = _first_occurrences(ops.cast(inputs, "int32"))
        weights = ops.take(self.ratios, ids, axis=0) * (
            self.prior + self.naive_bayes_weights
            + ops.take(self.offsets, ids, axis=0)
        )
        present = ops.expand_dims(ops.cast(present, weights.dtype), -1)
        return ops.sum(weights * present, axis=1) + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def adapt_to_labels(self, batches):
        """Sets the ratios from ``(ids, labels)`` batches of training data.

        ``ids``: ``[B, L]`` ints as the layer receives them; ``labels``:
        ``[B]`` class indices. For class c, ``r[g, c] = log(p / |p|) -
        log(q / |q|)`` where p (q) counts the texts of class c (of the
        other classes) containing id g, plus `smoothing`.
        """
        if not self.built:
            self.build((None, None))
        counts = np.zeros((self.input_dim, self.num_classes))
        for ids, labels in batches:
            ids = np.sort(np.asarray(ids, dtype=np.int64), axis=1)
            labels = np.asarray(labels, dtype=np.int64).reshape(-1)
            if ids.ndim != 2 or len(ids) != len(labels):
                raise ValueError(
                    "Expected ids of shape [batch, length] and labels of "
                    f"shape [batch]. Received: ids.shape={ids.shape}, "
                    f"labels.shape={labels.shape}"
                )
            keep = ids != 0
            keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
            rows, _ = np.nonzero(keep)
            np.add.at(counts, (ids[keep], labels[rows]), 1.0)
        unseen = counts.sum(axis=1) == 0
        others = counts.sum(axis=1, keepdims=True) - counts + self.smoothing
        counts += self.smoothing
        ratios = np.log(counts / counts.sum(axis=0)) - np.log(
            others / others.sum(axis=0)
        )
        # Ids absent from training carry no evidence (as in NBSVM, whose
        # vocabulary holds only training n-grams).
        ratios[unseen] = 0.0
        ratios[0] = 0.0
        self.ratios.assign(ratios.astype(self.ratios.dtype))
        self._mark_adapted()

    def finish_training(self):
        """Interpolates the trained weights (call once fitting ends).

        Sets ``nb = (1 - beta) / beta * mean|prior + w|`` per class, the
        mean over the ids seen in training (non-zero ratios), ``beta`` =
        `interpolation`. Nothing changes with ``interpolation=1``.
        """
        ratios = ops.convert_to_numpy(self.ratios)
        weights = self.prior + ops.convert_to_numpy(self.offsets)
        seen = ratios != 0
        magnitude = np.where(seen, np.abs(weights), 0.0).sum(axis=0) / (
            np.maximum(seen.sum(axis=0), 1)
        )
        beta = self.interpolation
        self.naive_bayes_weights.assign(
            ((1 - beta) / beta * magnitude).astype(self.ratios.dtype)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "prior": self.prior,
            "smoothing": self.smoothing,
            "l2": self.l2,
            "interpolation": self.interpolation,
        }


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
