"""`NgramHashing` (hashed word n-grams) against a NumPy reference.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import keras
import numpy as np
import pytest

from kerasseq import models
from kerasseq.layers import NgramHashing

from .helpers import VOCAB, check_id_layer, masked_mean_head

# The documented multipliers (m1, m2) of bigrams and trigrams.
MULTIPLIERS = ((1543, 1031), (1907, 1237))


def reference_ngram_ids(ids, vocab_size, buckets, max_n):
    """NumPy reading of the documented NgramHashing hash (int64)."""
    ids = np.asarray(ids, dtype=np.int64)
    rows = []
    for row in ids:
        length = int(np.count_nonzero(row))
        out = list(row)
        for n in range(2, max_n + 1):
            block = [0] * len(row)
            for t in range(length - n + 1):
                h = row[t]
                for k in range(1, n):
                    m1, m2 = MULTIPLIERS[k - 1]
                    h = ((h % buckets) * m1 % buckets
                         + (row[t + k] % buckets) * m2 % buckets) % buckets
                block[t] = vocab_size + h
            out.extend(block)
        rows.append(out)
    return np.array(rows)


@pytest.mark.parametrize(
    "max_n, vocab_size, buckets",
    [(1, 300_000, 2**20), (2, 300_000, 2**20), (3, 300_000, 2**20),
     (3, 40_000_000, 2**24), (3, 40_000_000, 16_777_213), (3, 5_000, 97)],
)
def test_ngram_hashing_matches_numpy(max_n, vocab_size, buckets):
    rng = np.random.default_rng(max_n)
    ids = rng.integers(1, vocab_size, size=(4, 7))
    for row, length in enumerate([7, 3, 1, 0]):
        ids[row, length:] = 0
    layer = NgramHashing(vocab_size, buckets, max_n)
    got = keras.ops.convert_to_numpy(layer(ids))
    np.testing.assert_array_equal(
        got, reference_ngram_ids(ids, vocab_size, buckets, max_n)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_n": 4}, "Expected max_n"),
        ({"buckets": 2**24 + 1}, "Expected buckets"),
        ({"vocab_size": 2}, "Expected vocab_size to be an integer >= 3"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramHashing(**{"vocab_size": 10, "buckets": 16, **kwargs})


@pytest.mark.parametrize("max_n", [1, 3])
def test_layer(max_n, tmp_path):
    check_id_layer(
        NgramHashing, {"vocab_size": VOCAB, "buckets": 16, "max_n": max_n},
        masked_mean_head(VOCAB + 16), tmp_path,
    )


def test_ngram_bag_ignores_extra_padding_and_reloads(tmp_path):
    model = models.build("ngram_bag", 50, 3, max_n=3, buckets=64,
                         token_dropout=0.5)
    ids = np.array([[5, 7, 9, 11, 0], [3, 0, 0, 0, 0]])
    padded = np.pad(ids, [[0, 0], [0, 6]])
    first = keras.ops.convert_to_numpy(model(ids))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(padded)), first, atol=1e-6
    )
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again(ids)), first, atol=1e-6
    )
