"""NBSVM's layer: class logits from naive Bayes log-count ratios."""

import keras
import numpy as np
from keras import ops

from kerasseq.layers.adapted_layer import AdaptedLayer
from kerasseq.layers.arguments import check_int


def first_occurrences(ids):
    """Sorted ``ids`` per row and a mask of each distinct non-zero id."""
    ordered = ops.sort(ids, axis=-1)
    changed = ops.not_equal(ordered[:, 1:], ordered[:, :-1])
    first = ops.concatenate(
        [ops.ones_like(changed[:, :1]), changed], axis=1
    )
    return ordered, ops.logical_and(first, ops.not_equal(ordered, 0))


def _check_non_negative(name, value, strict=False):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or (strict and value == 0)
    ):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(
            f"Expected {name} to be a number {bound}. "
            f"Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="kerasseq")
class LogCountRatioLogits(AdaptedLayer):
    """Class logits from naive Bayes log-count ratios of distinct ids.

    Wang & Manning's NBSVM scales binarized n-gram features by their
    naive Bayes log-count ratio ``r`` and fits a linear classifier on top;
    this layer does it inside a Keras model, for any number of classes
    (one-vs-rest ratios). It takes ``[B, L]`` int ids (0 = padding;
    repeats count once) and returns ``[B, num_classes]`` logits ``sum_g
    r[g] * (prior + nb + w[g]) + bias`` over the distinct ids ``g``.

    Two `AdaptedLayer` hooks set its non-trainable weights (both run by
    `kerasseq.train`; with your own ``model.fit``, use
    `kerasseq.layers.adapt_to_labels` before and the `FinishTraining`
    callback):

    - `adapt_to_labels` sets the ratios ``r`` from the training split;
      before that they are 0 and so are the logits, and training the
      layer raises an error.
    - `finish_training` sets ``nb`` (per class, 0 until then) after
      fitting: Wang & Manning's interpolation ``w' = (1 - beta) * mean|w|
      + beta * w`` (``w`` here: ``prior + w``) divided by ``beta``, i.e.
      ``nb = (1 - beta) / beta * mean|w|``, so that the learned part keeps
      its scale.

    Args:
        input_dim: int, number of ids (largest id + 1).
        num_classes: int, number of classes (2 or more).
        prior: float, weight of the naive Bayes ratios at ``w = 0``.
            Defaults to 0.
        smoothing: float, the count added to every id and class (Laplace
            smoothing ``alpha``), > 0. Defaults to 1.
        l2: float, L2 penalty on the learned offsets ``w``. Defaults to 0.
        interpolation: float, ``beta`` in (0, 1]; 1 (no interpolation)
            keeps the trained weights as they are. Wang & Manning use
            0.25. Defaults to 1.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: ``[B, L]`` int ids, 0 = padding.
        training: bool; training an unadapted layer raises an error.

    Example:

    >>> import numpy as np
    >>> layer = LogCountRatioLogits(input_dim=10, num_classes=2)
    >>> ids, labels = np.array([[2, 3, 0], [4, 5, 5]]), np.array([1, 0])
    >>> layer.adapt_to_labels([(ids, labels)])
    >>> tuple(layer(np.array([[2, 3, 3]])).shape)
    (1, 2)
    >>> layer.finish_training()  # after fitting: interpolation

    References:
        - [Wang & Manning, 2012](https://aclanthology.org/P12-2018/)
    """

    adapts_to_labels = True
    finishes_training = True

    def __init__(self, input_dim, num_classes, prior=0.0, smoothing=1.0,
                 l2=0.0, interpolation=1.0, **kwargs):
        super().__init__(**kwargs)
        check_int("input_dim", input_dim, 2)
        check_int("num_classes", num_classes, 2)
        _check_non_negative("prior", prior)
        _check_non_negative("smoothing", smoothing, strict=True)
        _check_non_negative("l2", l2)
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
        ids, present = first_occurrences(ops.cast(inputs, "int32"))
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
        ``[B]`` class indices, or ``[B, C]`` multi-hot rows (multi-label).
        For class c, ``r[g, c] = log(p / |p|) - log(q / |q|)`` where p (q)
        counts the texts with (without) class c containing id g, plus
        `smoothing`.
        """
        if not self.built:
            self.build((None, None))
        counts = np.zeros((self.input_dim, self.num_classes))
        texts = np.zeros((self.input_dim, 1))
        for ids, labels in batches:
            ids = np.sort(np.asarray(ids, dtype=np.int64), axis=1)
            labels = np.asarray(labels)
            if labels.ndim == 1:
                labels = np.eye(self.num_classes)[labels.astype(np.int64)]
            if (ids.ndim != 2 or len(ids) != len(labels)
                    or labels.shape[1:] != (self.num_classes,)):
                raise ValueError(
                    "Expected ids of shape [batch, length] and labels of "
                    "shape [batch] or [batch, num_classes]. Received: "
                    f"ids.shape={ids.shape}, labels.shape={labels.shape}"
                )
            keep = ids != 0
            keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
            rows, _ = np.nonzero(keep)
            np.add.at(counts, ids[keep], labels[rows])
            np.add.at(texts, ids[keep], 1.0)
        unseen = texts[:, 0] == 0
        others = texts - counts + self.smoothing
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
        config = super().get_config()
        config.update(
            {
                "input_dim": self.input_dim,
                "num_classes": self.num_classes,
                "prior": self.prior,
                "smoothing": self.smoothing,
                "l2": self.l2,
                "interpolation": self.interpolation,
            }
        )
        return config
