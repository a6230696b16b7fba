"""`TextDataset` and the label/split helpers every source shares."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from kerasseq.errors import ConfigError, DataError


@dataclasses.dataclass(repr=False, eq=False)
class TextDataset:
    """Texts with labels, split into train and test.

    Labels are int64 ids into `class_names` (sorted, deterministic), or
    for multi-label data a float32 multi-hot matrix ``[N, C]`` whose
    columns follow `class_names`.
    """

    train_texts: list[str]
    train_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    class_names: list[str]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_label(self) -> bool:
        """Whether the labels are a multi-hot matrix."""
        return np.ndim(self.train_labels) == 2

    def validation_split(self, fraction: float = 0.1, seed: int = 0):
        """Seeded stratified split of the training part.

        Returns ``(train_texts, train_labels, val_texts, val_labels)``.
        """
        check_fraction("fraction", fraction)
        if self.multi_label:
            train_idx, val_idx = random_indices(
                len(self.train_texts), fraction, seed
            )
            return (
                [self.train_texts[i] for i in train_idx],
                self.train_labels[train_idx],
                [self.train_texts[i] for i in val_idx],
                self.train_labels[val_idx],
            )
        train_idx, val_idx = stratified_indices(
            [self.class_names[i] for i in self.train_labels],
            fraction,
            seed,
            f"{self.source} (train part)",
        )
        return (
            [self.train_texts[i] for i in train_idx],
            self.train_labels[train_idx],
            [self.train_texts[i] for i in val_idx],
            self.train_labels[val_idx],
        )

    def __repr__(self) -> str:
        return (
            f"TextDataset(source={self.source!r}, "
            f"train={len(self.train_texts)}, test={len(self.test_texts)}, "
            f"class_names={self.class_names!r})"
        )


def check_fraction(name: str, value: float) -> None:
    """Raise `ConfigError` unless ``0 < value < 1``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0.0 < value < 1.0)
    ):
        raise ConfigError(
            f"Expected {name} to be a number strictly between 0 and 1. "
            f"Received {name}={value!r}."
        )


def stratified_indices(labels, fraction: float, seed: int, what: str):
    """Seeded stratified ``(kept, held_out)`` index arrays.

    Raises `DataError` naming the classes that are too small to appear on
    both sides of the split.
    """
    labels = np.asarray(labels)
    indices = np.arange(len(labels))
    try:
        kept, held_out = train_test_split(
            indices,
            test_size=fraction,
            random_state=seed,
            stratify=labels,
        )
    except ValueError as exc:
        counts = dict(sorted(Counter(labels.tolist()).items()))
        raise DataError(
            f"{what}: cannot make a stratified split with fraction "
            f"{fraction} of {len(labels)} examples (examples per class: "
            f"{counts}). Every class needs at least 2 examples and each side "
            "at least one example per class: add examples, change the "
            f"fraction, or give an explicit train/test split. ({exc})"
        ) from None
    return np.sort(kept), np.sort(held_out)


def random_indices(count: int, fraction: float, seed: int):
    """Seeded random ``(kept, held_out)`` index arrays (multi-label data
    cannot be stratified by one class)."""
    kept, held_out = train_test_split(
        np.arange(count), test_size=fraction, random_state=seed
    )
    return np.sort(kept), np.sort(held_out)


def sorted_class_names(labels) -> list[str]:
    """Distinct labels, numerically sorted when all are integers."""
    names = set(labels)
    if all(_is_int(name) for name in names):
        return sorted(names, key=int)
    return sorted(names)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def build_dataset(
    train_texts: list[str],
    train_labels: Sequence[str],
    test_texts: list[str],
    test_labels: Sequence[str],
    source: str,
) -> TextDataset:
    """Turn string labels into ids; check classes and unseen test labels."""
    class_names = sorted_class_names(train_labels)
    if len(class_names) < 2:
        found = class_names[0] if class_names else "none"
        raise DataError(
            f"{source}: the training data has only one class ({found!r}); "
            "a classifier needs at least two. Check the label column, or "
            "add examples of the other classes."
        )
    ids = {name: index for index, name in enumerate(class_names)}
    unseen = sorted(set(test_labels) - ids.keys())
    if unseen:
        raise DataError(
            f"{source}: test label(s) {unseen[:10]} never occur in the "
            f"training data (training classes: {class_names}). Move some "
            "examples of these classes to the train split, or remove them."
        )
    return TextDataset(
        train_texts=list(train_texts),
        train_labels=np.array([ids[x] for x in train_labels], dtype=np.int64),
        test_texts=list(test_texts),
        test_labels=np.array([ids[x] for x in test_labels], dtype=np.int64),
        class_names=class_names,
        source=source,
    )


def split_and_build(
    texts: list[str],
    labels: list[str],
    test_size: float,
    seed: int,
    source: str,
) -> TextDataset:
    """Seeded stratified train/test split, then `build_dataset`."""
    check_fraction("test_size", test_size)
    if len(set(labels)) < 2:
        return build_dataset(texts, labels, [], [], source)
    train_idx, test_idx = stratified_indices(labels, test_size, seed, source)
    return build_dataset(
        [texts[i] for i in train_idx],
        [labels[i] for i in train_idx],
        [texts[i] for i in test_idx],
        [labels[i] for i in test_idx],
        source,
    )


def build_multilabel_dataset(
    train_texts: list[str],
    train_label_sets: Sequence[Sequence[str]],
    test_texts: list[str],
    test_label_sets: Sequence[Sequence[str]],
    source: str,
) -> TextDataset:
    """Multi-hot label matrices from label sets; checks unseen labels."""
    class_names = sorted_class_names(
        {name for names in train_label_sets for name in names}
    )
    if len(class_names) < 2:
        raise DataError(
            f"{source}: the training data has fewer than two labels "
            f"({class_names}); a classifier needs at least two. Check the "
            "label column and the label separator."
        )
    ids = {name: index for index, name in enumerate(class_names)}
    unseen = sorted(
        {name for names in test_label_sets for name in names} - ids.keys()
    )
    if unseen:
        raise DataError(
            f"{source}: test label(s) {unseen[:10]} never occur in the "
            "training data. Move some examples with these labels to the "
            "train split, or remove these labels from the test rows."
        )

    def multi_hot(label_sets):
        matrix = np.zeros((len(label_sets), len(class_names)), np.float32)
        for row, names in enumerate(label_sets):
            matrix[row, [ids[name] for name in names]] = 1.0
        return matrix

    return TextDataset(
        train_texts=list(train_texts),
        train_labels=multi_hot(train_label_sets),
        test_texts=list(test_texts),
        test_labels=multi_hot(test_label_sets),
        class_names=class_names,
        source=source,
    )
