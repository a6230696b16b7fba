"""`PositionNgramSum` (n-gram embeddings summed per word position).

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import keras
import numpy as np
import pytest
from keras import ops

from kerasseq.layers import (
    MaskedGlobalPooling1D,
    NgramHashing,
    PositionNgramSum,
)

from .helpers import DIM, VOCAB, check_id_layer


def test_position_ngram_sum_matches_numpy():
    rng = np.random.default_rng(3)
    ids = np.array([[4, 5, 6, 0], [7, 0, 0, 0]])
    ngram_ids = np.array([[4, 5, 6, 0, 9, 8, 0, 0, 3, 0, 0, 0],
                          [7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    embeddings = rng.normal(size=(2, 12, 5)).astype("float32")
    layer = PositionNgramSum(3)
    got = ops.convert_to_numpy(layer([embeddings, ngram_ids, ids]))
    expected = np.zeros((2, 4, 5), "float32")
    for b in range(2):
        for j in range(12):
            if ngram_ids[b, j]:
                expected[b, j % 4] += embeddings[b, j]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    mask = ops.convert_to_numpy(
        layer.compute_mask([embeddings, ngram_ids, ids])
    )
    np.testing.assert_array_equal(mask, ids != 0)


@pytest.mark.parametrize("max_n", [0, 4, True, "2"])
def test_bad_max_n(max_n):
    with pytest.raises(ValueError, match="Expected max_n to be 1, 2 or 3"):
        PositionNgramSum(max_n)


@pytest.mark.parametrize("max_n", [2, 3])
def test_layer(max_n, tmp_path):
    """As in ``ngram_bigru``: ids -> NgramHashing -> Embedding ->
    PositionNgramSum -> masked mean (through the layer's mask)."""

    def apply(layer, ids):
        ngram_ids = NgramHashing(VOCAB, 16, max_n)(ids)
        embeddings = keras.layers.Embedding(VOCAB + 16, DIM)(ngram_ids)
        return layer([embeddings, ngram_ids, ids])

    def head(x):
        x = MaskedGlobalPooling1D("mean")(x)
        return keras.layers.Dense(2, activation="softmax")(x)

    check_id_layer(
        PositionNgramSum, {"max_n": max_n}, head, tmp_path, apply=apply
    )
