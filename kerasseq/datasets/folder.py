"""A folder with one sub-folder per class, as
`keras.utils.text_dataset_from_directory` reads it.

Layouts: ``root/<class>/*.txt`` (seeded stratified train/test split), or
``root/train/<class>/*.txt`` plus ``root/test/<class>/*.txt``.

Which files are texts of which class is decided by the index behind
`keras.utils.text_dataset_from_directory`: every sub-folder whose name
does not start with ``.`` is a class; its files whose names end in the
extension (in any case), in nested folders too, are its texts; linked
folders inside a class are not followed.
"""

from __future__ import annotations

import os
from pathlib import Path

from keras.src.utils.dataset_utils import index_directory

from kerasseq.datasets.core import TextDataset, build_dataset, split_and_build
from kerasseq.datasets.files import DEFAULT_MAX_TEXT_CHARS, first_bad_byte
from kerasseq.errors import DataError


def load_folder(
    path,
    *,
    class_names: list[str] | None = None,
    extension: str = ".txt",
    test_size: float = 0.2,
    seed: int = 13,
    drop_empty: bool = False,
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
) -> TextDataset:
    """Read ``*<extension>`` files (UTF-8), labelled by their sub-folder.

    ``class_names`` restricts the sub-folders used (e.g. to skip
    ``aclImdb/train/unsup``).
    """
    root = Path(path)
    options = (class_names, extension, drop_empty, max_text_chars)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train = _read_classes(root / "train", *options)
        test = _read_classes(root / "test", *options)
        return build_dataset(*train, *test, str(root))
    texts, labels = _read_classes(root, *options)
    return split_and_build(texts, labels, test_size, seed, str(root))


def _index(root, extension, class_names=None):
    """Keras's ``(file paths, label ids, class names)`` for `root`."""
    return index_directory(
        str(root),
        "inferred",
        formats=(extension.lower(),),
        class_names=class_names,
        shuffle=False,
        verbose=False,
    )


def _read_classes(root, class_names, extension, drop_empty, max_chars):
    wanted = None if class_names is None else sorted(set(class_names))
    try:
        files, ids, names = _index(root, extension, wanted)
    except ValueError:  # Keras: a requested class has no sub-folder
        found = _index(root, extension)[2]
        raise DataError(
            f"{root}: no sub-folder(s) {sorted(set(wanted) - set(found))} "
            f"for the requested class_names; sub-folders found: {found}."
        ) from None
    texts, labels, empty = [], [], []
    for file, label_id in zip(files, ids, strict=True):
        text = _read_text(Path(file), max_chars)
        if not text.strip():
            empty.append(file)
            continue
        texts.append(text)
        labels.append(names[label_id])
    if empty and not drop_empty:
        raise DataError(
            f"{root}: {len(empty)} empty file(s), first: {empty[:5]}. "
            "Delete them or pass drop_empty=True to skip them."
        )
    if not texts:
        raise DataError(
            f"{root}: no non-empty *{extension} files in class sub-folders "
            f"(sub-folders found: {names}). Put one folder per class with "
            f"{extension} files inside."
        )
    return texts, labels


def _read_text(file: Path, max_chars: int) -> str:
    try:
        with open(file, encoding="utf-8-sig", newline="") as stream:
            return stream.read(max_chars)
    except UnicodeDecodeError:
        raise DataError(
            f"{file}: not valid UTF-8 (first bad byte at offset "
            f"{first_bad_byte(file)}). Re-encode "
            "the file as UTF-8, e.g. `iconv -f cp1252 -t utf-8`."
        ) from None
    except OSError as error:
        problem = (
            f"a broken link to {os.readlink(file)}"
            if file.is_symlink() and not file.exists()
            else error.strerror or str(error)
        )
        raise DataError(
            f"{file}: cannot read it ({problem}). Fix or remove it."
        ) from None
