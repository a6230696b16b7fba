"""`TextModel`: the string-input Keras model of an export."""

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="kerasseq")
class TextModel(keras.Model):
    """A functional model taking raw strings. Its `predict` also takes a
    list of strings or a NumPy array of ``str`` (Keras' data adapters
    refuse that dtype; an ``object`` array of the same texts works)."""

    def predict(self, x, *args, **kwargs):
        if isinstance(x, (list, tuple)) or (
                isinstance(x, np.ndarray) and x.dtype.kind == "U"):
            x = np.asarray(x, dtype=object)
        return super().predict(x, *args, **kwargs)
