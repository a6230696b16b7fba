"""The `AdaptedLayer` hooks and the functions running them on a model.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import re

import keras
import numpy as np
import pytest
from keras import ops

from kerasseq.errors import ConfigError
from kerasseq.layers import (
    AdaptedLayer,
    LogCountRatioLogits,
    SubwordHashing,
    TokenDropout,
    adapt_to_labels,
    adapt_to_vocabulary,
    finish_layers_training,
    layers_adapting_to_labels,
)

from .test_log_count_ratio_logits import (
    CLASSES,
    IDS,
    INPUT_DIM,
    LABELS,
    reference_ratios,
)


class Recorder(AdaptedLayer):
    """Records the hooks called; flags set per instance."""

    def __init__(self, flags=(), **kwargs):
        super().__init__(**kwargs)
        for flag in flags:
            setattr(self, flag, True)
        self.calls = []

    def call(self, inputs, training=None):
        self._check_adapted(training)
        return inputs

    def adapt_to_vocabulary(self, vocabulary):
        self.calls.append(("vocabulary", list(vocabulary)))

    def adapt_to_labels(self, batches):
        self.calls.append(("labels", [np.asarray(x) for x, _ in batches]))

    def finish_training(self):
        self.calls.append(("finish",))


class NotAdapted(keras.layers.Layer):
    """Has the hook methods but is no `AdaptedLayer`: never called."""

    def call(self, inputs):
        return inputs

    def adapt_to_vocabulary(self, vocabulary):
        raise AssertionError("called by name")

    finish_training = adapt_to_labels = adapt_to_vocabulary


def chain(*layers):
    ids = keras.Input((None,), dtype="int32")
    x = ids
    for layer in layers:
        x = layer(x)
    return keras.Model(ids, x)


def test_the_base_hooks_do_nothing_and_no_flag_is_set():
    layer = AdaptedLayer()
    assert not (layer.adapts_to_vocabulary or layer.adapts_to_labels
                or layer.finishes_training)
    assert layer.adapt_to_vocabulary(["a"]) is None
    assert layer.adapt_to_labels([(IDS, LABELS)]) is None
    assert layer.finish_training() is None


def test_hooks_run_only_for_the_flags_set():
    vocabulary = Recorder(["adapts_to_vocabulary"], name="vocabulary")
    labels = Recorder(["adapts_to_labels"], name="labels")
    finish = Recorder(["finishes_training"], name="finish")
    model = chain(vocabulary, labels, finish, NotAdapted())
    adapt_to_vocabulary(model, ["fun", "film"])
    assert layers_adapting_to_labels(model) == [labels]
    adapt_to_labels(model, [(IDS, LABELS)])
    finish_layers_training(model)
    assert vocabulary.calls == [("vocabulary", ["fun", "film"])]
    assert [call[0] for call in labels.calls] == ["labels"]
    np.testing.assert_array_equal(labels.calls[0][1][0], IDS)
    assert finish.calls == [("finish",)]


def test_layers_adapting_to_labels_of_nbsvm():
    from kerasseq import models

    model = models.build("nbsvm", 20, 2, buckets=64)
    assert layers_adapting_to_labels(model) == [
        model.get_layer("log_count_ratio_logits")
    ]
    assert layers_adapting_to_labels(models.build("ngram_bag", 20, 2)) == []


def test_adapt_to_labels_feeds_each_layer_its_inputs_in_inference_mode():
    """Word dropout in front must not drop ids while the ratios are set,
    and batches may come split."""
    layer = LogCountRatioLogits(INPUT_DIM, CLASSES)
    model = chain(TokenDropout(0.9, seed=0), layer)
    adapt_to_labels(model, [(IDS[:2], LABELS[:2]), (IDS[2:], LABELS[2:])])
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.ratios),
        reference_ratios(IDS, LABELS, INPUT_DIM, CLASSES, 1.0),
        rtol=1e-6,
    )


def test_adapt_to_vocabulary_fills_the_tables():
    layer = SubwordHashing(6, buckets=100, max_per_word=8)
    adapt_to_vocabulary(chain(layer), ["fun", "funny"])
    assert ops.convert_to_numpy(layer.table)[2:4].all(axis=1).any()


@pytest.mark.parametrize(
    "flags, call",
    [(["adapts_to_vocabulary"], "adapt_to_vocabulary(tokenizer.vocabulary)"),
     (["adapts_to_labels", "finishes_training"], "adapt_to_labels(")],
)
def test_training_an_unadapted_layer_names_its_hook(flags, call):
    layer = Recorder(flags, name="recorder")
    with pytest.raises(ConfigError, match=re.escape(f"adapted with `{call}")):
        layer(IDS, training=True)
    layer._mark_adapted()
    layer(IDS, training=True)


def test_a_layer_only_finishing_training_needs_no_adapting():
    Recorder(["finishes_training"])(IDS, training=True)
