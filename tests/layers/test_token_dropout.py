"""`TokenDropout` (word dropout on ids).

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import numpy as np
import pytest
from keras import ops

from kerasseq.layers import TokenDropout

from .helpers import VOCAB, check_id_layer, masked_mean_head


def test_drops_only_in_training_and_never_padding():
    ids = np.tile(np.arange(1, 201, dtype="int32"), (50, 1))
    ids[:, 150:] = 0
    layer = TokenDropout(0.25, seed=0)
    np.testing.assert_array_equal(ops.convert_to_numpy(layer(ids)), ids)
    dropped = ops.convert_to_numpy(layer(ids, training=True))
    kept = dropped != 0
    np.testing.assert_array_equal(dropped[kept], ids[kept])
    assert not kept[:, 150:].any()
    assert abs(1 - kept[:, :150].mean() - 0.25) < 0.02


@pytest.mark.parametrize("rate", [1.0, -0.1, "x"])
def test_bad_rate(rate):
    with pytest.raises(ValueError, match="Expected rate"):
        TokenDropout(rate)


def test_layer(tmp_path):
    check_id_layer(
        TokenDropout, {"rate": 0.2, "seed": 3}, masked_mean_head(VOCAB),
        tmp_path,
    )
