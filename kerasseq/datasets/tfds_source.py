"""``tfds:<name>``: TensorFlow Datasets text classification sets.

`tensorflow_datasets` is imported only when such a source is loaded.
"""

from __future__ import annotations

from kerasseq.datasets.core import TextDataset, build_dataset
from kerasseq.errors import DataError

TEXT_KEYS = {
    "imdb_reviews": ("text",),
    "ag_news_subset": ("title", "description"),
}
"""Feature keys joined (with a space) into the text, per dataset."""

DEFAULT_TEXT_KEYS = ("text",)
LABEL_KEY = "label"

OFFLINE_HINT = (
    "Without network access, pass a local file instead, e.g. "
    "`--data path/to/file.csv` (or load_dataset('path/to/file.csv')) with "
    "columns text,label[,split]."
)


def load_tfds(
    name: str,
    *,
    data_dir: str | None = None,
    download: bool = True,
) -> TextDataset:
    """Load the ``train`` and ``test`` splits of a tfds dataset.

    Class names come from ``info.features["label"].names``.
    """
    import tensorflow_datasets as tfds

    source = f"tfds:{name}"
    try:
        splits, info = tfds.load(
            name,
            split=["train", "test"],
            data_dir=data_dir,
            download=download,
            with_info=True,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"{source}: tensorflow_datasets has no dataset {name!r}. Use e.g. "
            f"{[f'tfds:{n}' for n in TEXT_KEYS]}. {OFFLINE_HINT}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any download/prepare failure
        raise DataError(
            f"{source}: downloading or preparing the dataset failed "
            f"({type(exc).__name__}: {exc}). {OFFLINE_HINT}"
        ) from exc
    features = info.features
    text_keys = TEXT_KEYS.get(name, DEFAULT_TEXT_KEYS)
    missing = [k for k in (*text_keys, LABEL_KEY) if k not in features]
    if missing:
        raise DataError(
            f"{source}: the dataset has no feature(s) {missing} (features: "
            f"{list(features)}); kerasseq knows the text/label keys of "
            f"{sorted(TEXT_KEYS)}. Export it to CSV with columns text,label."
        )
    names = list(features[LABEL_KEY].names)
    parts = [
        _texts_and_labels(tfds, split, text_keys, names) for split in splits
    ]
    return build_dataset(*parts[0], *parts[1], source)


def _texts_and_labels(tfds, split, text_keys, names):
    texts, labels = [], []
    for example in tfds.as_numpy(split):
        texts.append(
            " ".join(_to_str(example[key]) for key in text_keys).strip()
        )
        labels.append(names[int(example[LABEL_KEY])])
    return texts, labels


def _to_str(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
