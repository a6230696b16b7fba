"""Order-blind baseline: masked mean of embeddings, hidden layer, head."""

from kerasseq.models import common, hparams
from kerasseq.models.registry import register


@register(
    "bag_of_embeddings",
    "Order-blind baseline: masked mean of embeddings -> dense -> softmax",
    {
        "embedding_dim": hparams.embedding_dim(64),
        "dropout": hparams.dropout(0.2),
        **hparams.token_regularization(),
        **hparams.head(hidden_units=64),
    },
)
def _bag_of_embeddings(ids, vocab_size, num_classes, hp):
    x = common.embed(ids, vocab_size, hp)
    x = common.pool(x, "mean")
    return common.classify(x, num_classes, hp)
