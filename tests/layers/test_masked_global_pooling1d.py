"""`MaskedGlobalPooling1D` (masked mean/max over time).

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import keras
import numpy as np
import pytest

from kerasseq.layers import MaskedGlobalPooling1D

from .helpers import check_layer


def test_masked_pooling_matches_numpy_reference():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(3, 4, 2)).astype("float32")
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    expected_mean = np.zeros((3, 2), dtype="float32")
    expected_max = np.zeros((3, 2), dtype="float32")
    for row in range(2):
        valid = values[row][mask[row]]
        expected_mean[row] = valid.mean(axis=0)
        expected_max[row] = valid.max(axis=0)
    mean = MaskedGlobalPooling1D("mean")(values, mask=mask)
    maximum = MaskedGlobalPooling1D("max")(values, mask=mask)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(mean), expected_mean, atol=1e-6
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(maximum), expected_max, atol=1e-6
    )


def test_masked_pooling_rejects_unknown_mode():
    with pytest.raises(ValueError, match="Expected mode"):
        MaskedGlobalPooling1D("median")


def apply(layer, x, mask=None, scores=False):
    return layer(x, mask=mask)


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_layer(mode, tmp_path):
    check_layer(
        MaskedGlobalPooling1D, {"mode": mode}, apply, tmp_path,
        pooled=True, has_scores=False,
    )
