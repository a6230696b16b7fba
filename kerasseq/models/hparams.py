"""Hyper-parameter declarations shared by several models."""

from kerasseq import layers as kl
from kerasseq.layers.hashing import MAX_BUCKETS
from kerasseq.models.registry import HParam


def embedding_dim(default):
    return HParam(default, "size of the token embeddings", low=1,
                  search=(8, 512), log=True)


def units(default=64, what="recurrent units per direction"):
    return HParam(default, what, low=1, search=(16, 512), log=True)


def rate(default, what):
    """A dropout-like rate in ``[0, 1)``."""
    return HParam(float(default), what, low=0.0, high=1.0, high_open=True,
                  search=(0.0, 0.5))


def dropout(default):
    return rate(default, "dropout rate on embeddings, between layers and "
                "on the pooled features")


def activation(default, what):
    return HParam(default, what, choices=tuple(kl.ACTIVATIONS))


def head(hidden_units=0):
    """The optional hidden layer before the softmax head."""
    return {
        "hidden_units": HParam(
            hidden_units, "units of the hidden layer before the head "
            "(0: none)", low=0, search=(0, 256)),
        "hidden_activation": activation(
            "relu", "activation of the hidden layer"),
    }


def buckets(default, what="hashed word n-gram ids"):
    return HParam(default, f"number of {what}", low=1, high=MAX_BUCKETS,
                  search=(2**16, 2**22), log=True)


def l2(default, what):
    return HParam(float(default), what, low=0.0, search=(0.0, 1e-4))


def token_regularization():
    """Word dropout and embedding dropout of a token embedding."""
    return {
        "word_dropout": rate(
            0.0, "share of tokens replaced by out-of-vocabulary in "
            "training (padding never)"),
        "embedding_dropout": rate(
            0.0, "share of embedding dimensions dropped for a whole "
            "sequence in training (SpatialDropout1D), besides dropout"),
    }
