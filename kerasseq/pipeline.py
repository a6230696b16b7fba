"""`tf.data` input pipeline for token-id sequences.

`make_dataset` builds the dataset from one ragged tensor (no Python
generator), truncates at the end to `maxlen`, shuffles with a seed
(a new, deterministic order every epoch), caches, batches with right
padding (0) and prefetches. Batches are padded to their longest sequence;
``pad_to_maxlen=True`` pads every batch to exactly `maxlen` (static shapes
for XLA). ``sort_window=k`` sorts each window of ``k`` batches (after the
shuffle) by length, cuts it into batches and shuffles those: every batch
is full and holds neighbours in length, so little padding;
``pad_to_multiple_of`` then bounds the number of shapes.
"""

import itertools

import numpy as np
import tensorflow as tf

from kerasseq.errors import ConfigError, DataError


def _ragged_ids(sequences, maxlen):
    try:
        rows = [list(sequence)[:maxlen] for sequence in sequences]
    except TypeError:
        raise DataError(
            "Expected sequences to be a list of token-id lists (from "
            "Tokenizer.texts_to_sequences)."
        ) from None
    if not rows:
        raise DataError("Expected at least one sequence. Received none.")
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    flat = np.array(list(itertools.chain.from_iterable(rows)))
    if flat.size and (flat.dtype.kind not in "iu" or flat.min() < 0):
        raise DataError(
            "Expected sequences of non-negative integer token ids (from "
            f"Tokenizer.texts_to_sequences). Received values of dtype "
            f"{flat.dtype} (min {flat.min()})."
        )
    ids = tf.RaggedTensor.from_row_lengths(
        tf.constant(flat, dtype=tf.int32, shape=[flat.size]), lengths
    )
    return ids, lengths


def _labels_tensor(labels, count):
    labels = np.asarray(labels)
    if labels.ndim == 2 and len(labels) == count:
        return tf.constant(labels, dtype=tf.float32)
    if labels.ndim != 1 or len(labels) != count:
        raise DataError(
            f"Expected one label per sequence ({count}), or a multi-hot "
            f"row per sequence. Received labels of shape {labels.shape}."
        )
    if labels.dtype.kind not in "iu":
        raise DataError(
            "Expected integer label ids 0..C-1. Received labels of dtype "
            f"{labels.dtype}; map class names to ids first."
        )
    return tf.constant(labels, dtype=tf.int32)


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"Expected {name} to be a positive integer. "
            f"Received: {name}={value!r}"
        )


def make_dataset(
    sequences,
    labels=None,
    *,
    batch_size=32,
    maxlen=None,
    shuffle=True,
    seed=0,
    cache=True,
    drop_remainder=False,
    pad_to_maxlen=False,
    sort_window=None,
    pad_to_multiple_of=None,
):
    """Batched `tf.data.Dataset` of right-padded int32 token ids.

    Args:
        sequences: list of token-id lists (`Tokenizer.texts_to_sequences`).
        labels: integer label ids, one per sequence, or ``None``.
        batch_size: examples per batch.
        maxlen: truncate longer sequences at the end (``None``: keep all).
        shuffle: shuffle the whole dataset, in a new order every epoch.
        seed: shuffle seed; the same seed gives the same epoch orders.
        cache: cache the elements after the first epoch.
        drop_remainder: drop the last incomplete batch.
        pad_to_maxlen: pad every batch to exactly `maxlen` (needs
            `maxlen`); otherwise to the longest in the batch.
        sort_window: ``None`` or a number of batches k: each window of
            ``k * batch_size`` sequences (after the shuffle) is sorted by
            length and cut into batches, which are then shuffled (within
            ``k`` batches).
        pad_to_multiple_of: ``None`` or m: pad each batch's length up to
            a multiple of m, but not beyond `maxlen` (``None``: the
            longest sequence), so at most ``maxlen / m + 1`` shapes reach
            the model (XLA compiles one program per shape).

    Returns:
        Dataset of ``(ids [B, T], labels [B])`` int32, or ``ids`` alone
        when `labels` is ``None``.
    """
    _check_positive("batch_size", batch_size)
    if maxlen is not None:
        _check_positive("maxlen", maxlen)
    if pad_to_maxlen and maxlen is None:
        raise ConfigError(
            "pad_to_maxlen=True needs maxlen. Received: maxlen=None."
        )
    for name, value in (("sort_window", sort_window),
                        ("pad_to_multiple_of", pad_to_multiple_of)):
        if value is not None:
            _check_positive(name, value)
    if pad_to_multiple_of is not None and pad_to_maxlen:
        raise ConfigError(
            "pad_to_multiple_of cannot be combined with pad_to_maxlen "
            "(each fixes the batch length itself)."
        )
    ids, lengths = _ragged_ids(sequences, maxlen)
    elements = ids if labels is None else (
        ids, _labels_tensor(labels, len(lengths)))
    # Ragged rows come out as ragged-rank-0 tensors: make them dense.
    dense = _on_ids(tf.identity)
    dataset = tf.data.Dataset.from_tensor_slices(elements).map(dense)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(
            len(lengths), seed=seed, reshuffle_each_iteration=True
        )
    length = maxlen if pad_to_maxlen else None
    shapes = [length] if labels is None else (
        [length], list(np.shape(labels)[1:]))
    if sort_window is not None:
        window = sort_window * batch_size
        dataset = dataset.ragged_batch(window).map(_sort_by_length)
        dataset = dataset.unbatch().map(dense)
    dataset = dataset.padded_batch(
        batch_size, padded_shapes=shapes, drop_remainder=drop_remainder
    )
    if sort_window is not None:
        if shuffle:
            dataset = dataset.shuffle(
                sort_window, seed=seed, reshuffle_each_iteration=True
            )
        # Every window is cut into full batches, so the batch count is
        # known; telling tf.data lets Keras size its progress bar and
        # count its steps exactly.
        count = len(lengths) // batch_size if drop_remainder else (
            -(-len(lengths) // batch_size))
        dataset = dataset.apply(
            tf.data.experimental.assert_cardinality(count)
        )
    if pad_to_multiple_of is not None:
        longest = int(lengths.max()) if maxlen is None else maxlen
        dataset = dataset.map(_on_ids(
            lambda ids: _pad_to_multiple(ids, pad_to_multiple_of, longest)
        ))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _on_ids(function):
    """A map function applying `function` to the ids of ``ids`` or
    ``(ids, labels)`` elements."""

    def apply(ids, *labels):
        return (function(ids), *labels) if labels else function(ids)

    return apply


def _sort_by_length(ids, *labels):
    """A ragged window of rows (and labels) in order of length."""
    order = tf.argsort(ids.row_lengths(), stable=True)
    if not labels:
        return tf.gather(ids, order)
    return tf.gather(ids, order), tf.gather(labels[0], order)


def _pad_to_multiple(ids, multiple, longest):
    """Right-pads ``[B, T]`` ids to ``T`` rounded up to `multiple`, but
    not beyond ``max(T, longest)``."""
    length = tf.shape(ids)[1]
    target = tf.minimum(
        (length + multiple - 1) // multiple * multiple,
        tf.maximum(length, longest),
    )
    return tf.pad(ids, [[0, 0], [0, target - length]])
