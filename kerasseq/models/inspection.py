"""Questions asked of a built model: cuDNN eligibility, attention weights."""

import keras

from kerasseq.models.common import ATTENTION_LAYER


def _rnn_layers(layers):
    for layer in layers:
        if isinstance(layer, keras.layers.Bidirectional):
            yield from _rnn_layers([layer.forward_layer, layer.backward_layer])
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.GRU)):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from _rnn_layers(layer.layers)


def _is_cudnn_eligible(layer):
    config = layer.get_config()
    eligible = (
        config["activation"] == "tanh"
        and config["recurrent_activation"] == "sigmoid"
        and config["recurrent_dropout"] == 0
        and not config["unroll"]
        and config["use_bias"]
        and config.get("use_cudnn", "auto") in ("auto", True)
    )
    if isinstance(layer, keras.layers.GRU):
        eligible = eligible and config["reset_after"]
    return bool(eligible)


def cudnn_eligible(model):
    """``{layer_name: bool}`` for every LSTM/GRU layer in `model`.

    True when the layer's config allows Keras' cuDNN kernel on the
    TensorFlow backend (tanh/sigmoid, ``recurrent_dropout=0``,
    ``unroll=False``, ``use_bias=True``, GRU ``reset_after=True``, cuDNN not
    disabled). With right-padded masks such a layer runs on cuDNN when a
    GPU is present. Bidirectional wrappers report their forward and
    backward layers. SimpleRNN has no cuDNN kernel and is not listed.
    """
    return {
        layer.name: _is_cudnn_eligible(layer)
        for layer in _rnn_layers(model.layers)
    }


def attention_model(model):
    """A model mapping the same ids to attention weights ``[B, T]``, or None.

    Defined for models pooling with the layer named ``"attention_pooling"``
    (``bilstm_bahdanau``, ``bilstm_luong_*`` and any RNN/Transformer built
    with ``pooling="attention"``). Weights sum to 1 over the non-padded
    steps and are 0 on padding. Other models (including the default
    mean-pooled ``transformer``) give None.
    """
    try:
        layer = model.get_layer(ATTENTION_LAYER)
    except ValueError:
        return None
    _, weights = layer.output
    return keras.Model(model.input, weights, name=f"{model.name}_attention")
