"""Questions asked of a built model: cuDNN eligibility, attention weights."""

import keras

from kerasseq.layers import AttentionPooling, BaseAttention


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


def _attention_weights(layer):
    """The weights output of an attention layer (first call) that
    returned them (``return_attention_scores=True``), else None."""
    if not isinstance(layer, (AttentionPooling, BaseAttention)):
        return None
    outputs = layer.output
    if isinstance(outputs, (list, tuple)) and len(outputs) == 2:
        return outputs[1]
    return None


def attention_model(model):
    """A model mapping the same ids to attention weights ``[B, T]``, or None.

    Defined for models whose attention layer (`AttentionPooling` or a
    `BaseAttention` subclass, called with
    ``return_attention_scores=True``) returns its weights: ``ngram_bigru``,
    ``bilstm_bahdanau``, ``bilstm_luong_*`` and any RNN/Transformer built
    with ``pooling="attention"``; the one nearest the output if several.
    Weights sum to 1 over the non-padded steps and are 0 on padding.
    Other models (including the default mean-pooled ``transformer``) give
    None.
    """
    for layer in reversed(model.layers):
        weights = _attention_weights(layer)
        if weights is not None:
            return keras.Model(
                model.input, weights, name=f"{model.name}_attention"
            )
    return None
