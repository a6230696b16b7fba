"""A folder with one sub-folder per class, like
`keras.utils.text_dataset_from_directory`.

Layouts: ``root/<class>/*.txt`` (seeded stratified train/test split), or
``root/train/<class>/*.txt`` plus ``root/test/<class>/*.txt``.
"""

from __future__ import annotations

from pathlib import Path

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


def _read_classes(root, class_names, extension, drop_empty, max_chars):
    found = sorted(p.name for p in root.iterdir() if p.is_dir())
    if class_names is not None:
        missing = sorted(set(class_names) - set(found))
        if missing:
            raise DataError(
                f"{root}: no sub-folder(s) {missing} for the requested "
                f"class_names; sub-folders found: {found}."
            )
        found = sorted(class_names)
    texts, labels, empty = [], [], []
    for name in found:
        for file in sorted((root / name).glob(f"*{extension}")):
            text = _read_text(file, max_chars)
            if not text.strip():
                empty.append(file)
                continue
            texts.append(text)
            labels.append(name)
    if empty and not drop_empty:
        raise DataError(
            f"{root}: {len(empty)} empty file(s), first: "
            f"{[str(f) for f in empty[:5]]}. Delete them or pass "
            "drop_empty=True to skip them."
        )
    if not texts:
        raise DataError(
            f"{root}: no non-empty *{extension} files in class sub-folders "
            f"(sub-folders found: {found}). Put one folder per class with "
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
