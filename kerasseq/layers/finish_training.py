"""A callback running the layers' `finish_training` hooks."""

import keras

from kerasseq.layers.adapted_layer import finish_layers_training


class FinishTraining(keras.callbacks.Callback):
    """Calls ``finish_training()`` of the model's `AdaptedLayer`s when
    ``fit`` ends (e.g. `LogCountRatioLogits`' interpolation).

    Put it last in the callback list, so that it sees the final weights
    (after `keras.callbacks.EarlyStopping` restored the best ones).

    Example:

    >>> model.fit(x, y, callbacks=[FinishTraining()])  # doctest: +SKIP
    """

    def on_train_end(self, logs=None):
        finish_layers_training(self.model)
