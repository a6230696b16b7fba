"""`FinishTraining`: the layers' `finish_training` hooks as a callback.

Runs on every backend (tests/layers also runs under JAX in CI).
"""

import keras
import numpy as np
from keras import ops

from kerasseq.layers import FinishTraining, LogCountRatioLogits, TokenDropout

from .helpers import toy_task


def test_plain_fit_interpolates_log_count_ratio_logits_at_the_end():
    ids, labels = toy_task()
    beta, prior = 0.25, 0.1
    layer = LogCountRatioLogits(12, 2, prior=prior, interpolation=beta)
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(
        inputs, keras.layers.Softmax()(layer(TokenDropout(0.1)(inputs)))
    )
    layer.adapt_to_labels([(ids, labels)])
    model.compile("adam", "sparse_categorical_crossentropy",
                  jit_compile=False)
    seen_during_fit = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen_during_fit.append(
                ops.convert_to_numpy(layer.naive_bayes_weights).copy()
            )

    model.fit(ids, labels, epochs=2, verbose=0,
              callbacks=[Watch(), FinishTraining()])
    # Zero while fitting; Wang & Manning's (1 - beta) / beta * mean|w|
    # over the ids seen in training once it ends.
    assert not np.any(seen_during_fit)
    weights = prior + ops.convert_to_numpy(layer.offsets)
    seen = np.unique(ids[ids != 0])
    expected = (1 - beta) / beta * np.abs(weights[seen]).mean(axis=0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(layer.naive_bayes_weights), expected,
        rtol=1e-5,
    )


def test_a_model_without_such_layers_is_unchanged():
    ids, labels = toy_task()
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(12, 4)(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, "softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(ids, labels, epochs=1, verbose=0, callbacks=[FinishTraining()])
    before = [w.copy() for w in model.get_weights()]
    callback = FinishTraining()
    callback.set_model(model)
    callback.on_train_end()
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
