"""`BoundaryHashing` (character n-grams across words) against a reference.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import zlib

import numpy as np
import pytest
from keras import ops

from kerasseq.layers import BoundaryHashing

from .helpers import (
    VOCAB,
    check_id_layer,
    check_training_needs_adapting,
    check_vocabulary_tables_saved,
    embedding_head,
    masked_mean_head,
)

VOCABULARY = ["very", "funny", "a"]  # ids 2, 3, 4
IDS = np.array([[2, 3, 4, 0], [4, 1, 2, 0], [0, 0, 0, 0]])


def reference_strings(ids, max_n):
    """``u[-a:] + " " + v[:b]`` for adjacent in-vocabulary words, by
    slicing the words."""
    words = {index + 2: word for index, word in enumerate(VOCABULARY)}
    rows = []
    for sequence in ids:
        grams = set()
        for u, v in zip(sequence[:-1], sequence[1:], strict=True):
            if u in words and v in words:
                left, right = words[u], words[v]
                grams |= {
                    (left[-a:], right[:b])
                    for a in range(1, len(left) + 1)
                    for b in range(1, len(right) + 1)
                    if a + 1 + b <= max_n
                }
        rows.append(grams)
    return rows


def reference_id(suffix, prefix, buckets, offset):
    """Python integers: exact, whatever the size of the products."""
    left = zlib.crc32(suffix.encode()) % buckets
    right = zlib.crc32(prefix.encode()) % buckets
    return offset + (left * 1543 % buckets + right * 1031 % buckets) % buckets


@pytest.mark.parametrize(
    "max_n, buckets",
    [(3, 10**6), (5, 10**6), (7, 10**6), (7, 2**24), (7, 16_777_213)],
)
def test_ids_match_reference(max_n, buckets):
    layer = BoundaryHashing(6, buckets=buckets, max_n=max_n, offset=50)
    layer.adapt_to_vocabulary(VOCABULARY)
    out = ops.convert_to_numpy(layer(IDS))
    pairs = (max_n - 2) * (max_n - 1) // 2
    assert out.shape == (3, 3 * pairs)
    expected = reference_strings(IDS, max_n)
    for row, wanted in zip(out, expected, strict=True):
        ids = {reference_id(s, p, buckets, 50) for s, p in wanted}
        assert set(row) - {0} == ids
        assert np.count_nonzero(row) == len(wanted)  # no duplicates
    # max_n=5: "y f", "y fu", "y fun", "ry f", "ry fu", "ery f" from
    # "very funny", "y a", "ny a", "nny a" from "funny a".
    assert len(expected[0]) == {3: 2, 5: 9, 7: 19}[max_n]
    # Pairs with the OOV id 1 or padding bring nothing.
    assert not out[1, :2 * pairs].any() and not out[2].any()


def test_same_strings_give_same_ids_across_positions():
    layer = BoundaryHashing(6, buckets=2**20, max_n=4)
    layer.adapt_to_vocabulary(VOCABULARY)
    out = ops.convert_to_numpy(layer(np.array([[2, 3, 0], [0, 2, 3]])))
    # Row 1 starts with padding, so its "very funny" pair is the second.
    np.testing.assert_array_equal(out[0, :3], out[1, 3:])
    assert not out[0, 3:].any() and not out[1, :3].any()


def test_tables_survive_keras_save(tmp_path):
    check_vocabulary_tables_saved(
        BoundaryHashing(6, buckets=100, max_n=5, name="boundaries"),
        VOCABULARY, IDS, tmp_path,
    )


def test_before_adapting_every_id_is_padding():
    out = ops.convert_to_numpy(BoundaryHashing(6)(IDS))
    assert out.shape == (3, 45) and not out.any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 2}, "Expected vocab_size to be an integer >= 3"),
        ({"buckets": 2**24 + 1}, "Expected buckets to be an integer >= 1 and"),
        ({"max_n": 2}, "Expected max_n to be an integer >= 3"),
        ({"offset": -1}, "Expected offset to be an integer >= 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BoundaryHashing(**{"vocab_size": 6, **kwargs})


def test_too_many_words_is_an_error():
    with pytest.raises(ValueError, match="Expected at most 2 words"):
        BoundaryHashing(4).adapt_to_vocabulary(VOCABULARY)


def test_config_round_trip():
    layer = BoundaryHashing(9, buckets=64, max_n=4, offset=11)
    clone = BoundaryHashing.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_training_needs_adapting(tmp_path):
    check_training_needs_adapting(
        lambda: BoundaryHashing(6, buckets=100, max_n=5),
        lambda layer: layer.adapt_to_vocabulary(VOCABULARY),
        embedding_head, IDS, np.array([0, 1, 0]), tmp_path,
    )


def test_layer(tmp_path):
    check_id_layer(
        BoundaryHashing,
        {"vocab_size": VOCAB, "buckets": 32, "max_n": 5, "offset": 1},
        masked_mean_head(33), tmp_path,
        adapt=lambda layer, ids, labels: layer.adapt_to_vocabulary(
            [f"w{index}" for index in range(2, VOCAB)]
        ),
    )
