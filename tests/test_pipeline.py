"""Tests for kerasseq.pipeline.make_dataset."""

import numpy as np
import pytest

from kerasseq.errors import ConfigError, DataError
from kerasseq.pipeline import make_dataset


def _sequences(count, seed=0, low=0, high=30):
    rng = np.random.default_rng(seed)
    # Example i starts with the marker id i + 1 so it can be traced.
    return [
        [i + 1, *rng.integers(1, 50, size=rng.integers(low, high)).tolist()]
        for i in range(count)
    ]


def _rows(ids):
    """Strip right padding from a batch [B, T] -> list of lists."""
    return [[int(v) for v in np.trim_zeros(row, "b")] for row in ids.numpy()]


def test_shapes_dtypes_and_right_padding():
    sequences = [[3, 4, 5], [6], [7, 8, 9, 10, 11], [12, 13]]
    labels = [0, 1, 1, 0]
    dataset = make_dataset(
        sequences, labels, batch_size=3, maxlen=4, shuffle=False
    )
    batches = list(dataset)
    ids, y = batches[0]
    assert ids.dtype == "int32" and y.dtype == "int32"
    expected = np.array([[3, 4, 5, 0], [6, 0, 0, 0], [7, 8, 9, 10]])
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(y, [0, 1, 1])
    np.testing.assert_array_equal(batches[1][0], [[12, 13]])
    assert len(batches) == 2


def test_ids_only_and_pad_to_maxlen():
    dataset = make_dataset(
        [[1, 2], [3]], batch_size=2, maxlen=5, shuffle=False, pad_to_maxlen=True
    )
    assert dataset.element_spec.shape.as_list() == [None, 5]
    np.testing.assert_array_equal(
        next(iter(dataset)), [[1, 2, 0, 0, 0], [3, 0, 0, 0, 0]]
    )
    with pytest.raises(ConfigError, match="pad_to_maxlen"):
        make_dataset([[1]], pad_to_maxlen=True)


@pytest.mark.parametrize(
    "by_length",
    [{}, {"sort_window": 3}, {"sort_window": 2, "pad_to_multiple_of": 8}],
)
def test_every_example_once_per_epoch(by_length):
    sequences = _sequences(57)
    labels = [i % 3 for i in range(57)]
    dataset = make_dataset(
        sequences, labels, batch_size=8, maxlen=20, **by_length
    )
    expected = sorted(s[:20] for s in sequences)
    for _ in range(2):
        seen, seen_labels = [], []
        for ids, y in dataset:
            seen.extend(_rows(ids))
            seen_labels.extend(y.numpy().tolist())
        assert sorted(seen) == expected
        assert [labels[row[0] - 1] for row in seen] == seen_labels


def _epoch_order(dataset):
    return [row[0] for ids in dataset for row in _rows(ids)]


def test_seeded_shuffle_is_deterministic_and_reshuffles():
    sequences = _sequences(40, low=1)
    first = make_dataset(sequences, batch_size=8, seed=3)
    second = make_dataset(sequences, batch_size=8, seed=3)
    orders = [_epoch_order(first), _epoch_order(first)]
    assert orders == [_epoch_order(second), _epoch_order(second)]
    assert orders[0] != orders[1]
    assert orders[0] != list(range(1, 41))
    other = make_dataset(sequences, batch_size=8, seed=4)
    assert _epoch_order(other) != orders[0]


def _padding_fraction(dataset):
    padded = real = 0
    for ids in dataset:
        ids = ids.numpy()
        padded += ids.size
        real += np.count_nonzero(ids)  # token ids are never 0 here
    return 1 - real / padded


def test_sort_window_batches_are_full_and_sorted_within_windows():
    sequences = _sequences(100, low=1, high=40)
    lengths = {s[0]: len(s[:30]) for s in sequences}
    dataset = make_dataset(sequences, batch_size=8, maxlen=30, seed=2,
                           sort_window=4)
    batches = [_rows(ids) for ids in dataset]
    # 100 = 12 full batches + 4; only the last window's last batch is short.
    assert sorted(len(b) for b in batches) == [4] + [8] * 12
    assert dataset.cardinality() == 13
    dropped = make_dataset(sequences, batch_size=8, sort_window=4,
                           drop_remainder=True)
    assert dropped.cardinality() == 12 == len(list(dropped))
    shuffled = make_dataset(sequences, batch_size=8, maxlen=30, seed=2)
    for ids in dataset:
        rows = _rows(ids)
        assert ids.shape[1] == max(lengths[r[0]] for r in rows)
    sorted_padding = _padding_fraction(dataset)
    assert sorted_padding < 0.5 * _padding_fraction(shuffled)
    # The batches of a window come in a new order every epoch.
    assert _epoch_order(dataset) != _epoch_order(dataset)


def test_sort_window_without_shuffle_keeps_windows_in_order():
    sequences = _sequences(24, low=1)
    dataset = make_dataset(sequences, batch_size=4, shuffle=False,
                           sort_window=3)
    order = _epoch_order(dataset)
    # Window k holds examples 12k+1 .. 12k+12, sorted by length (stable).
    for start in (0, 12):
        window = sequences[start:start + 12]
        expected = [s[0] for s in sorted(window, key=len)]
        assert order[start:start + 12] == expected


@pytest.mark.parametrize("maxlen, longest, expected", [
    (None, 13, 13), (20, 13, 16), (14, 13, 14), (None, 16, 16),
])
def test_pad_to_multiple_of(maxlen, longest, expected):
    sequences = [[5] * longest, [6] * 3]
    ids, _ = next(iter(make_dataset(
        sequences, [0, 1], batch_size=2, maxlen=maxlen, shuffle=False,
        pad_to_multiple_of=8,
    )))
    assert ids.shape == (2, expected)
    assert np.count_nonzero(ids) == min(longest, maxlen or longest) + 3


def test_bad_arguments():
    with pytest.raises(DataError, match="one label per sequence"):
        make_dataset([[1], [2]], [0])
    with pytest.raises(DataError, match="integer label ids"):
        make_dataset([[1]], ["pos"])
    with pytest.raises(DataError, match="non-negative integer"):
        make_dataset([[1, -2]])
    with pytest.raises(DataError, match="at least one sequence"):
        make_dataset([])
    with pytest.raises(ConfigError, match="batch_size"):
        make_dataset([[1]], batch_size=0)
    with pytest.raises(ConfigError, match="sort_window to be a positive"):
        make_dataset([[1]], sort_window=0)
    with pytest.raises(ConfigError, match="pad_to_multiple_of cannot"):
        make_dataset([[1]], maxlen=3, pad_to_maxlen=True,
                     pad_to_multiple_of=8)
