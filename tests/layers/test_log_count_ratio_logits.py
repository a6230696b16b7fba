"""`LogCountRatioLogits` (NBSVM's layer) against NumPy references.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import keras
import numpy as np
import pytest
from keras import ops

from kerasseq.models.nbsvm import LogCountRatioLogits

from .helpers import check_training_needs_adapting

# Right padded; row 1 repeats id 5, row 3 is empty.
IDS = np.array([[2, 3, 4, 0], [5, 5, 6, 0], [2, 6, 7, 8], [0, 0, 0, 0]])
LABELS = np.array([0, 1, 2, 1])
INPUT_DIM, CLASSES = 10, 3


def reference_ratios(ids, labels, input_dim, classes, alpha):
    """Wang & Manning's ratios, one class against the rest, by loops."""
    present = np.zeros((len(ids), input_dim))
    for row, sequence in enumerate(ids):
        for token in set(sequence) - {0}:
            present[row, token] = 1.0
    ratios = np.zeros((input_dim, classes))
    for c in range(classes):
        p = present[labels == c].sum(axis=0) + alpha
        q = present[labels != c].sum(axis=0) + alpha
        ratios[:, c] = np.log(p / p.sum()) - np.log(q / q.sum())
    ratios[present.sum(axis=0) == 0] = 0.0  # padding and unseen ids
    return ratios


def reference_logits(ids, ratios, offsets, bias, prior, beta=1.0):
    """Wang & Manning's interpolated weights ``(1 - beta) * mean|w| + beta
    * w`` (mean over the ids seen in training), divided by beta."""
    weights = prior + offsets
    seen = [token for token in range(len(ratios)) if ratios[token].any()]
    mean = np.abs(weights[seen]).mean(axis=0)
    weights = ((1 - beta) * mean + beta * weights) / beta
    logits = np.zeros((len(ids), ratios.shape[1]))
    for row, sequence in enumerate(ids):
        for token in set(sequence) - {0}:
            logits[row] += ratios[token] * weights[token]
    return logits + bias


@pytest.mark.parametrize("smoothing", [1.0, 0.5])
def test_adapt_matches_reference_one_batch_or_many(smoothing):
    whole = LogCountRatioLogits(INPUT_DIM, CLASSES, smoothing=smoothing)
    whole.adapt_to_labels([(IDS, LABELS)])
    split = LogCountRatioLogits(INPUT_DIM, CLASSES, smoothing=smoothing)
    split.adapt_to_labels([(IDS[:1], LABELS[:1]), (IDS[1:], LABELS[1:])])
    expected = reference_ratios(IDS, LABELS, INPUT_DIM, CLASSES, smoothing)
    np.testing.assert_allclose(
        ops.convert_to_numpy(whole.ratios), expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(split.ratios), expected, rtol=1e-6
    )


def test_logits_count_each_id_once_and_ignore_padding():
    layer = LogCountRatioLogits(INPUT_DIM, CLASSES, prior=0.5)
    layer.adapt_to_labels([(IDS, LABELS)])
    rng = np.random.default_rng(0)
    layer.offsets.assign(rng.normal(size=(INPUT_DIM, CLASSES)))
    layer.bias.assign(rng.normal(size=CLASSES))
    expected = reference_logits(
        IDS, reference_ratios(IDS, LABELS, INPUT_DIM, CLASSES, 1.0),
        *(ops.convert_to_numpy(w) for w in (layer.offsets, layer.bias)),
        0.5,
    )
    np.testing.assert_allclose(layer(IDS), expected, rtol=1e-5, atol=1e-6)
    padded = np.pad(IDS, [(0, 0), (0, 5)])
    np.testing.assert_allclose(layer(padded), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prior, beta", [(0.0, 0.25), (0.5, 0.5), (0.0, 1.0)])
def test_finish_training_interpolates_like_wang_and_manning(prior, beta):
    layer = LogCountRatioLogits(
        INPUT_DIM, CLASSES, prior=prior, interpolation=beta
    )
    layer.adapt_to_labels([(IDS, LABELS)])
    rng = np.random.default_rng(1)
    layer.offsets.assign(rng.normal(size=(INPUT_DIM, CLASSES)))
    layer.bias.assign(rng.normal(size=CLASSES))
    before = ops.convert_to_numpy(layer(IDS))
    layer.finish_training()
    # Ids 0 (padding), 1 and 9 never occur: they count neither in the
    # mean magnitude nor in any text.
    unseen = np.pad(IDS, [(0, 0), (0, 2)], constant_values=9)
    unseen[:, -1] = 1
    ratios = reference_ratios(IDS, LABELS, INPUT_DIM, CLASSES, 1.0)
    offsets, bias = (ops.convert_to_numpy(w)
                     for w in (layer.offsets, layer.bias))
    expected = reference_logits(IDS, ratios, offsets, bias, prior, beta)
    np.testing.assert_allclose(layer(IDS), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer(unseen), expected, rtol=1e-5, atol=1e-5)
    if beta == 1.0:
        np.testing.assert_allclose(layer(IDS), before, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_dim": 1}, "Expected input_dim to be an integer >= 2"),
        ({"num_classes": 1}, "Expected num_classes to be an integer >= 2"),
        ({"prior": -1.0}, "Expected prior to be a number >= 0"),
        ({"smoothing": 0}, "Expected smoothing to be a number > 0"),
        ({"l2": "x"}, "Expected l2 to be a number >= 0. Received: l2='x'"),
        ({"interpolation": 0}, "Expected interpolation to be a number in"),
        ({"interpolation": 1.5}, "Received: interpolation=1.5"),
        ({"interpolation": True}, "Received: interpolation=True"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LogCountRatioLogits(**{"input_dim": 5, "num_classes": 2, **kwargs})


def test_adapt_rejects_mismatched_labels():
    layer = LogCountRatioLogits(INPUT_DIM, CLASSES)
    with pytest.raises(ValueError, match="Expected ids of shape"):
        layer.adapt_to_labels([(IDS, LABELS[:2])])


def test_config_round_trip():
    layer = LogCountRatioLogits(7, 4, prior=0.3, smoothing=0.5, l2=1e-4,
                                interpolation=0.25)
    clone = LogCountRatioLogits.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_training_needs_adapting(tmp_path):
    check_training_needs_adapting(
        lambda: LogCountRatioLogits(INPUT_DIM, CLASSES),
        lambda layer: layer.adapt_to_labels([(IDS, LABELS)]),
        keras.layers.Softmax(), IDS, LABELS, tmp_path,
    )
