"""Pieces shared by the builders: embedding, pooling, hidden layer, head."""

import keras

from kerasseq import layers as kl


def activation_names():
    """Activation names accepted by `kerasseq.layers.get_activation`."""
    return tuple(kl.ACTIVATIONS)


def embed(ids, vocab_size, hp):
    """Word dropout, masked embedding (``mask_zero=True``), embedding
    dropout and dropout."""
    x = keras.layers.Embedding(
        vocab_size, hp["embedding_dim"], mask_zero=True, name="embedding"
    )(word_dropout(ids, hp))
    return dropout(embedding_dropout(x, hp), hp, "embedding_dropout")


def word_dropout(ids, hp):
    """``TokenDropout`` to out-of-vocabulary (id 1) at
    ``hp["word_dropout"]`` when positive."""
    if hp.get("word_dropout", 0) > 0:
        ids = kl.TokenDropout(hp["word_dropout"], replacement=1,
                              name="word_dropout")(ids)
    return ids


def embedding_dropout(x, hp):
    """``SpatialDropout1D(hp["embedding_dropout"])`` when positive: whole
    embedding dimensions dropped for a sequence."""
    if hp.get("embedding_dropout", 0) > 0:
        x = keras.layers.SpatialDropout1D(
            hp["embedding_dropout"], name="embedding_spatial_dropout")(x)
    return x


def dropout(x, hp, name):
    """``Dropout(hp["dropout"])`` when the rate is positive."""
    if hp["dropout"] > 0:
        x = keras.layers.Dropout(hp["dropout"], name=name)(x)
    return x


def pool(sequence, mode, score="additive", query="learned", units=0):
    """Pool ``[B, T, D]`` to ``[B, D]`` over the non-padded steps.

    ``mode`` is ``"mean"``, ``"max"`` or ``"attention"``; attention uses
    `AttentionPooling`, whose weights `attention_model` exposes.
    """
    if mode == "attention":
        pooled, _ = kl.AttentionPooling(
            score=score,
            query=query,
            units=units or None,
            name="attention_pooling",
        )(sequence, return_attention_scores=True)
        return pooled
    return kl.MaskedGlobalPooling1D(mode, name=f"{mode}_pooling")(sequence)


def classify(features, num_classes, hp):
    """Optional hidden layer, dropout, then the float32 softmax head
    (`registry.build` swaps it for a sigmoid head for multi-label)."""
    x = features
    if hp["hidden_units"] > 0:
        x = keras.layers.Dense(hp["hidden_units"], name="hidden")(x)
        x = activation_layer(hp["hidden_activation"], "hidden_activation")(x)
        x = dropout(x, hp, "hidden_dropout")
    return keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="classifier"
    )(x)


def activation_layer(name, layer_name):
    """A layer applying activation `name` (PReLU has weights)."""
    activation = kl.get_activation(name)
    if isinstance(activation, keras.layers.Layer):
        return activation
    return keras.layers.Activation(activation, name=layer_name)


def sigmoid_head(model, num_classes):
    """`model`'s softmax ``classifier`` layer replaced by a float32
    sigmoid one on the same input: the multi-label head."""
    head = model.get_layer("classifier")
    if isinstance(head, keras.layers.Dense):
        layer = keras.layers.Dense(
            num_classes, activation="sigmoid", dtype="float32",
            name="classifier",
        )
    else:  # an Activation on per-class logits (nbsvm)
        layer = keras.layers.Activation(
            "sigmoid", dtype="float32", name="classifier"
        )
    return layer(head.input)
