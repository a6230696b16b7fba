"""`SubwordHashing` (character n-grams of word ids) against a reference.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import zlib

import numpy as np
import pytest
from keras import ops

from kerasseq.layers import SubwordHashing

from .helpers import (
    VOCAB,
    check_id_layer,
    check_training_needs_adapting,
    check_vocabulary_tables_saved,
    embedding_head,
    masked_mean_head,
)

VOCABULARY = ["fun", "funny", "a"]  # ids 2, 3, 4
IDS = np.array([[2, 3, 0], [4, 1, 0], [0, 0, 0]])


def reference_grams(word, min_n, max_n):
    """The character n-grams of "<word>", by slicing."""
    marked = "<" + word + ">"
    return {marked[i:i + n] for n in range(min_n, max_n + 1)
            for i in range(len(marked) - n + 1)}


def reference_ids(ids, buckets, min_n, max_n, offset):
    words = {index + 2: word for index, word in enumerate(VOCABULARY)}
    rows = []
    for sequence in ids:
        grams = set()
        for token in sequence:
            if token in words:
                grams |= reference_grams(words[token], min_n, max_n)
        rows.append({offset + zlib.crc32(g.encode()) % buckets
                     for g in grams})
    return rows


@pytest.mark.parametrize("min_n, max_n", [(2, 5), (1, 3), (3, 3)])
def test_ids_match_reference(min_n, max_n):
    layer = SubwordHashing(6, buckets=1000, min_n=min_n, max_n=max_n,
                           max_per_word=40, offset=50)
    layer.adapt_to_vocabulary(VOCABULARY)
    out = ops.convert_to_numpy(layer(IDS))
    assert out.shape == (3, 3 * 40)
    expected = reference_ids(IDS, 1000, min_n, max_n, 50)
    for row, wanted in zip(out, expected, strict=True):
        assert set(row) - {0} == wanted
    # Padding (row 2) and the OOV id 1 bring no n-grams.
    assert not out[2].any() and not out[1, 40:80].any()


def test_shared_grams_give_shared_ids():
    layer = SubwordHashing(6, buckets=2**20, max_per_word=40)
    layer.adapt_to_vocabulary(VOCABULARY)
    out = ops.convert_to_numpy(layer(np.array([[2], [3]])))
    fun, funny = set(out[0]) - {0}, set(out[1]) - {0}
    # "<f", "<fu", "<fun", "fu", "un", "fun" are common; "fun>" is not.
    assert len(fun & funny) == 6
    assert zlib.crc32(b"fun>") % 2**20 in fun - funny


def test_max_per_word_keeps_the_shortest_grams():
    layer = SubwordHashing(6, buckets=10**6, min_n=2, max_n=5,
                           max_per_word=4)
    layer.adapt_to_vocabulary(VOCABULARY)
    out = ops.convert_to_numpy(layer(np.array([[3]])))[0]
    bigrams = ["<f", "fu", "un", "nn"]
    assert list(out) == [zlib.crc32(g.encode()) % 10**6 for g in bigrams]


def test_table_survives_keras_save(tmp_path):
    check_vocabulary_tables_saved(
        SubwordHashing(6, buckets=100, max_per_word=8, name="subwords"),
        VOCABULARY, IDS, tmp_path,
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vocab_size": 2}, "Expected vocab_size to be an integer >= 3"),
        ({"buckets": 2**24 + 1}, "Expected buckets to be an integer >= 1 and"),
        ({"min_n": 0}, "Expected min_n to be an integer >= 1"),
        ({"min_n": 3, "max_n": 2}, "Expected max_n to be an integer >= 3"),
        ({"max_per_word": 0}, "Expected max_per_word to be an integer"),
        ({"offset": -1}, "Expected offset to be an integer >= 0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SubwordHashing(**{"vocab_size": 6, **kwargs})


def test_too_many_words_is_an_error():
    layer = SubwordHashing(4)
    with pytest.raises(ValueError, match="Expected at most 2 words"):
        layer.adapt_to_vocabulary(VOCABULARY)


def test_config_round_trip():
    layer = SubwordHashing(9, buckets=64, min_n=1, max_n=4, max_per_word=7,
                           offset=11)
    clone = SubwordHashing.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_training_needs_adapting(tmp_path):
    check_training_needs_adapting(
        lambda: SubwordHashing(6, buckets=100, max_per_word=8),
        lambda layer: layer.adapt_to_vocabulary(VOCABULARY),
        embedding_head, IDS, np.array([0, 1, 0]), tmp_path,
    )


def test_layer(tmp_path):
    check_id_layer(
        SubwordHashing,
        {"vocab_size": VOCAB, "buckets": 32, "max_per_word": 8,
         "offset": 1},
        masked_mean_head(33), tmp_path,
        adapt=lambda layer, ids, labels: layer.adapt_to_vocabulary(
            [f"w{index}" for index in range(2, VOCAB)]
        ),
    )
