"""kerasseq: text classification with sequence models on Keras 3.

Public API::

    kerasseq.load_dataset(source)          # CSV/TSV/JSONL, folder, tfds:, ...
    kerasseq.Tokenizer(num_words=...)      # fit_on_texts / texts_to_sequences
    kerasseq.make_dataset(...)             # tf.data pipeline, sorted windows
    kerasseq.models.build(name, ...)       # ready-made classifiers
    kerasseq.train(config)                 # one run: config in, run dir out
    kerasseq.load(path)                    # a run or export -> Predictor
    kerasseq.export(model, tokenizer, ...) # SavedModel taking raw strings
    kerasseq.lr_find(config)               # learning-rate range test
    kerasseq.compare(models, data)         # several models, one table
    kerasseq.tune(config, out=...)         # KerasTuner search

``import kerasseq`` imports Keras, so that ``keras.models.load_model``
finds kerasseq's layers and standardizers with no ``custom_objects``;
Keras imports its backend, and TensorFlow's startup is most of the cost.
On another backend TensorFlow is imported only when used (tokenizing,
`make_dataset`, training, export).
"""

__version__ = "0.1.0"

from kerasseq import startup

try:
    with startup.native_logging_filtered():
        from kerasseq import layers, models, reporting, text
        from kerasseq.compare import compare
        from kerasseq.datasets import TextDataset, load_dataset
        from kerasseq.errors import (
            ArtifactError,
            ConfigError,
            DataError,
            KerasSeqError,
        )
        from kerasseq.exporter import export
        from kerasseq.lr_finder import lr_find
        from kerasseq.predictor import Predictor, load
        from kerasseq.text import Tokenizer
        from kerasseq.training import TrainConfig, train
except KeyboardInterrupt:
    startup.exit_if_command_interrupted()
    raise

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "KerasSeqError",
    "Predictor",
    "TextDataset",
    "Tokenizer",
    "TrainConfig",
    "__version__",
    "compare",
    "export",
    "layers",
    "load",
    "load_dataset",
    "lr_find",
    "make_dataset",
    "models",
    "reporting",
    "text",
    "train",
    "tune",
]


def __getattr__(name):
    # kerasseq.pipeline imports TensorFlow and kerasseq.tuning KerasTuner:
    # each only when used.
    if name == "make_dataset":
        from kerasseq.pipeline import make_dataset

        return make_dataset
    if name == "tune":
        from kerasseq.tuning import tune

        return tune
    raise AttributeError(f"module 'kerasseq' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
