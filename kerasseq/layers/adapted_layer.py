"""The adapt/finish hooks: layers set from the training data.

`AdaptedLayer` declares which hooks a layer uses; the functions below run
them over a model's layers (`kerasseq.train` calls them, and so can your
own training code; `FinishTraining` runs `finish_training` as a callback).
"""

import keras
import numpy as np
from keras import ops

from kerasseq.errors import ConfigError


class AdaptedLayer(keras.layers.Layer):
    """Base of layers set from the training data or once fitting ends.

    A subclass sets the flags of the hooks it uses and overrides those
    methods; the others stay no-ops:

    - `adapts_to_vocabulary`: `adapt_to_vocabulary(vocabulary)` fills
      non-trainable tables from the tokenizer's words, before fitting.
    - `adapts_to_labels`: `adapt_to_labels(batches)` sets non-trainable
      statistics from ``(inputs, labels)`` batches of the training split,
      before fitting.
    - `finishes_training`: `finish_training()` changes non-trainable
      weights once fitting ends.

    Whatever the hooks compute lives in weights, so it is saved with the
    model. A layer that adapts computes nothing useful before: its tables
    start at 0, and training it raises a `kerasseq.errors.ConfigError`
    instead of silently fitting a model that ignores its inputs. Loading
    saved weights into the layer (``load_model``, ``load_weights``, the
    layer's ``set_weights``) counts as adapted when the loaded tables are
    not all 0.

    In your own training code, call `adapt_to_vocabulary(model, words)`
    and `adapt_to_labels(model, batches)` (functions of
    `kerasseq.layers`) before ``model.fit`` and pass the `FinishTraining`
    callback to it.

    Args:
        **kwargs: keyword arguments of `keras.layers.Layer`.
    """

    adapts_to_vocabulary = False
    adapts_to_labels = False
    finishes_training = False

    def adapt_to_vocabulary(self, vocabulary):
        """Sets the layer from the words of ids 2, 3, ... in order
        (`kerasseq.text.Tokenizer.vocabulary`). Does nothing here."""

    def adapt_to_labels(self, batches):
        """Sets the layer from ``(inputs, labels)`` NumPy batches of the
        training split, ``inputs`` as the layer receives them and
        ``labels`` class indices ``[B]``. Does nothing here."""

    def finish_training(self):
        """Changes the layer once fitting ends. Does nothing here."""

    def _mark_adapted(self):
        self._adapted = True

    def _check_adapted(self, training):
        if not training or getattr(self, "_adapted", False):
            return
        if not (self.adapts_to_vocabulary or self.adapts_to_labels):
            return
        call = (
            "adapt_to_vocabulary(tokenizer.vocabulary)"
            if self.adapts_to_vocabulary
            else "adapt_to_labels([(ids, labels), ...])"
        )
        raise ConfigError(
            f"Expected {type(self).__name__} {self.name!r} to be adapted "
            f"with `{call}` before training (kerasseq.train does it; in "
            "your own code call it before model.fit, on a newly built "
            "model: this failed step leaves the model unusable). "
            "Received: a layer whose tables were never set (by adapting "
            "it or by loading saved weights into it)."
        )

    def _adapted_from_values(self):
        self._adapted = any(
            np.any(ops.convert_to_numpy(variable.value))
            for variable in self.non_trainable_variables
        )

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self._adapted_from_values()

    def set_weights(self, weights):
        super().set_weights(weights)
        self._adapted_from_values()


def _layers_with(model, flag):
    return [
        layer
        for layer in model.layers
        if isinstance(layer, AdaptedLayer) and getattr(layer, flag)
    ]


def adapt_to_vocabulary(model, vocabulary):
    """Runs ``adapt_to_vocabulary(vocabulary)`` of every layer of `model`
    that adapts to the vocabulary (`kerasseq.text.Tokenizer.vocabulary`:
    the words of ids 2, 3, ...)."""
    for layer in _layers_with(model, "adapts_to_vocabulary"):
        layer.adapt_to_vocabulary(vocabulary)


def layers_adapting_to_labels(model):
    """The layers of `model` that adapt to the training labels."""
    return _layers_with(model, "adapts_to_labels")


def adapt_to_labels(model, batches):
    """Runs ``adapt_to_labels`` of every layer of `model` that adapts to
    the training labels.

    Args:
        model: a functional `keras.Model`.
        batches: ``(ids, labels)`` batches of the training split, as the
            model receives them (a list or a `tf.data.Dataset`; it is read
            once per adapting layer). Each layer receives its own inputs,
            computed by the layers in front of it in inference mode.
    """
    for layer in layers_adapting_to_labels(model):
        layer_inputs = keras.Model(model.input, layer.input)
        layer.adapt_to_labels(
            (
                ops.convert_to_numpy(layer_inputs(ids, training=False)),
                np.asarray(labels),
            )
            for ids, labels in batches
        )


def finish_layers_training(model):
    """Runs ``finish_training()`` of every layer of `model` that changes
    once fitting ends."""
    for layer in _layers_with(model, "finishes_training"):
        layer.finish_training()
