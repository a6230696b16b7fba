"""Ready-made text classifiers and their registry.

``build(name, vocab_size, num_classes, **hparams)`` returns an uncompiled
`keras.Model` mapping right-padded int ids ``[batch, time]`` (0 = padding,
any length) to class probabilities ``[batch, num_classes]``.

Every model ends in a float32 softmax over the classes (``Dense(
num_classes, activation="softmax", dtype="float32")``; ``nbsvm`` applies
it to its naive Bayes logits), binary tasks included: one head keeps metrics,
export and probabilities uniform, and the float32 head keeps mixed
precision numerically safe. Compile with
``loss="sparse_categorical_crossentropy"``. ``build(...,
multi_label=True)`` swaps the softmax for a float32 sigmoid per class
(``nbsvm``: over its per-class one-vs-rest logits); compile those with
``loss="binary_crossentropy"``.

Embeddings use ``mask_zero=True``; recurrent layers consume the mask and
pooling uses only non-padded steps, so extra padding never changes a
prediction. Each model declares its hyper-parameters (`HParam`: default,
range or choices, search bounds; see `hparam_specs`); values are checked
against them (`kerasseq.errors.ConfigError`) and strings are coerced to
each default's type.
"""

from kerasseq.layers import MaskedGlobalPooling1D
from kerasseq.models import (  # noqa: F401  (registers the builders)
    baselines,
    nbsvm,
    ngram,
    recurrent,
    transformer,
)
from kerasseq.models.inspection import attention_model, cudnn_eligible
from kerasseq.models.registry import (
    HParam,
    build,
    default_hparams,
    describe,
    hparam_specs,
    names,
    register,
    resolve_hparams,
)

__all__ = [
    "HParam",
    "MaskedGlobalPooling1D",
    "attention_model",
    "build",
    "cudnn_eligible",
    "default_hparams",
    "describe",
    "hparam_specs",
    "names",
    "register",
    "resolve_hparams",
]
