"""Recurrent classifiers: SimpleRNN/LSTM/GRU, bidirectional, attention.

LSTM/GRU keep Keras' defaults (tanh/sigmoid, ``use_bias=True``,
``unroll=False``, GRU ``reset_after=True``) so that with
``recurrent_dropout=0`` and right-padded masks TensorFlow runs them on
cuDNN; `kerasseq.models.cudnn_eligible` reports it per layer.
"""

import keras

from kerasseq.models import common, hparams
from kerasseq.models.registry import HParam, register

_RNN = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}
POOLINGS = ("last", "max", "mean", "attention")
ATTENTION_QUERIES = ("learned", "last")


def _hparams(bidirectional, pooling="last"):
    return {
        "embedding_dim": hparams.embedding_dim(64),
        "units": hparams.units(64),
        "num_layers": HParam(1, "stacked recurrent layers", low=1,
                             search=(1, 3)),
        "bidirectional": HParam(bidirectional, "read both directions"),
        "dropout": hparams.dropout(0.2),
        **hparams.token_regularization(),
        "recurrent_dropout": hparams.rate(
            0.0, "dropout on the recurrent state (> 0 disables cuDNN)"),
        "pooling": HParam(pooling, "how the states become one vector",
                          choices=POOLINGS),
        **hparams.head(),
    }


def _attention_hparams(query):
    declared = _hparams(True)
    del declared["bidirectional"], declared["pooling"]
    return {
        **declared,
        "attention_units": HParam(
            0, "hidden size of the attention score (0: the state size)",
            low=0, search=(0, 256)),
        "attention_query": HParam(
            query, "attention query: a learned vector or the last state",
            choices=ATTENTION_QUERIES),
    }


def _encode(ids, vocab_size, hp, cell, bidirectional, last_only):
    """Embedding + stacked RNN; ``[B, units]`` if `last_only` else a
    masked ``[B, T, units]`` sequence (units doubled when bidirectional).
    """
    x = common.embed(ids, vocab_size, hp)
    for index in range(1, hp["num_layers"] + 1):
        is_top = index == hp["num_layers"]
        rnn = _RNN[cell](
            hp["units"],
            recurrent_dropout=hp["recurrent_dropout"],
            return_sequences=not (is_top and last_only),
            name=f"{cell}_{index}",
        )
        if bidirectional:
            rnn = keras.layers.Bidirectional(rnn, name=f"bi{cell}_{index}")
        x = rnn(x)
        if not is_top:
            x = common.dropout(x, hp, f"{cell}_{index}_dropout")
    return x


def _recurrent(cell):
    def build(ids, vocab_size, num_classes, hp):
        last_only = hp["pooling"] == "last"
        x = _encode(ids, vocab_size, hp, cell, hp["bidirectional"], last_only)
        if not last_only:
            x = common.pool(x, hp["pooling"])
        x = common.dropout(x, hp, "pooled_dropout")
        return common.classify(x, num_classes, hp)

    return build


def _attention(cell, score):
    def build(ids, vocab_size, num_classes, hp):
        x = _encode(ids, vocab_size, hp, cell, True, last_only=False)
        x = common.pool(
            x,
            "attention",
            score=score,
            query=hp["attention_query"],
            units=hp["attention_units"],
        )
        x = common.dropout(x, hp, "pooled_dropout")
        return common.classify(x, num_classes, hp)

    return build


_POOLING_NOTE = "pooling last/max/mean/attention"

# A plain RNN's last state keeps little of the early words (vanishing
# gradients); max pooling over all steps gives every word a short path.
for _cell, _title, _pooling in (
    ("simple_rnn", "SimpleRNN", "max"),
    ("lstm", "LSTM", "last"),
    ("gru", "GRU", "last"),
):
    register(
        _cell,
        f"{_title} over masked embeddings ({_POOLING_NOTE}), softmax head",
        _hparams(False, _pooling),
    )(_recurrent(_cell))

for _cell, _title in (("lstm", "LSTM"), ("gru", "GRU")):
    register(
        f"bi{_cell}",
        f"Bidirectional {_title} ({_POOLING_NOTE}), softmax head",
        _hparams(True),
    )(_recurrent(_cell))

register(
    "bilstm_bahdanau",
    "BiLSTM + additive (Bahdanau) attention pooling, learned query",
    _attention_hparams("learned"),
)(_attention("lstm", "additive"))

for _score, _what in (
    ("dot", "dot-product"),
    ("general", "bilinear 'general'"),
    ("concat", "'concat'"),
):
    register(
        f"bilstm_luong_{_score}",
        f"BiLSTM + Luong {_what} attention pooling, last state as query",
        _attention_hparams("last"),
    )(_attention("lstm", _score))
