"""``sklearn:20newsgroups`` through `sklearn.datasets.fetch_20newsgroups`."""

from __future__ import annotations

import sklearn.datasets

from kerasseq.datasets.core import TextDataset, build_dataset
from kerasseq.datasets.tfds_source import OFFLINE_HINT
from kerasseq.errors import DataError

NAMES = ("20newsgroups",)
DEFAULT_REMOVE = ("headers", "footers", "quotes")


def load_sklearn(
    name: str,
    *,
    data_home: str | None = None,
    remove: tuple[str, ...] = DEFAULT_REMOVE,
    categories: list[str] | None = None,
) -> TextDataset:
    """Load the ``train`` and ``test`` subsets of a scikit-learn corpus.

    ``remove`` defaults to stripping headers, footers and quotes, which
    scikit-learn recommends for a realistic evaluation.
    """
    source = f"sklearn:{name}"
    if name not in NAMES:
        raise DataError(
            f"{source}: unknown scikit-learn dataset {name!r}. Available: "
            f"{[f'sklearn:{n}' for n in NAMES]}."
        )
    parts = []
    for subset in ("train", "test"):
        try:
            bunch = sklearn.datasets.fetch_20newsgroups(
                subset=subset,
                data_home=data_home,
                remove=tuple(remove),
                categories=categories,
            )
        except Exception as exc:  # noqa: BLE001 - any download failure
            raise DataError(
                f"{source}: downloading the {subset!r} subset failed "
                f"({type(exc).__name__}: {exc}). {OFFLINE_HINT}"
            ) from exc
        names = list(bunch.target_names)
        parts.append((list(bunch.data), [names[int(i)] for i in bunch.target]))
    return build_dataset(*parts[0], *parts[1], source)
