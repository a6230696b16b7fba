"""kerasseq: text classification with sequence models on Keras 3.

Public API (imported lazily, so ``import kerasseq`` is cheap)::

    kerasseq.load_dataset(source)          # CSV/TSV/JSONL, folder, tfds:, ...
    kerasseq.Tokenizer(num_words=...)      # fit_on_texts / texts_to_sequences
    kerasseq.make_dataset(...)             # tf.data pipeline, bucketing
    kerasseq.models.build(name, ...)       # ready-made classifiers
    kerasseq.train(config)                 # one run: config in, run dir out
    kerasseq.export(model, tokenizer, ...) # SavedModel taking raw strings
"""

import importlib

from kerasseq.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    KerasSeqError,
)

__version__ = "0.1.0"

# Imported eagerly so that their `register_keras_serializable` entries exist
# and `keras.models.load_model` reloads kerasseq models after `import kerasseq`
# with no `custom_objects`.
from kerasseq import layers, text  # noqa: E402,F401  (isort: skip)

_LAZY = {
    "Tokenizer": "kerasseq.text",
    "load_dataset": "kerasseq.datasets",
    "TextDataset": "kerasseq.datasets",
    "make_dataset": "kerasseq.pipeline",
    "train": "kerasseq.training",
    "TrainConfig": "kerasseq.training",
    "export": "kerasseq.exporter",
    "layers": None,
    "models": None,
    "reporting": None,
}

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "KerasSeqError",
    "__version__",
    *_LAZY,
]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'kerasseq' has no attribute {name!r}")
    module_name = _LAZY[name]
    if module_name is None:
        value = importlib.import_module(f"kerasseq.{name}")
    else:
        value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
