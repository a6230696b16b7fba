"""Bidirectional LSTM (or GRU) on MR (sentence polarity).

Run from the repository root (data: ``mr.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/lstm_gru_mr.py
    python recipes/lstm_gru_mr.py --epochs 2 --set model=bigru
    python recipes/lstm_gru_mr.py --data my.csv --out runs/mine --overwrite

Gated recurrent cells read the sentence both ways; the last
states feed the softmax. Switch cells with --set model=bigru
(or lstm, gru for one direction), pooling with
--set pooling=max|mean|attention.

Measured: test accuracy 0.760 (2,132 sentences) with --epochs 2
(65 s wall) on 2 x86_64 CPU cores shared with other jobs, no GPU. A
short run only; the default 5 epochs may do a little better.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="bilstm",  # Embedding(mask_zero) -> Bidirectional(LSTM) -> softmax
    epochs=5,  # early stopping (patience 2) may stop sooner
    batch_size=64,
    max_tokens=20000,  # vocabulary incl. padding + OOV
    maxlen=None,  # None: 95th percentile of training lengths
    learning_rate=1e-3,
    seed=0,
    export=False,  # exported below, into saved_models/lstm_gru_mr
    hparams=dict(embedding_dim=128, units=64, dropout=0.3, pooling="last"),
)
EXAMPLES = [
    "a gripping , beautifully acted story that stays with you",
    "a tedious mess with nothing new to say",
    "not as funny as it thinks it is",
]


def main():
    # 1. The config: defaults + command line (--data, --epochs, --set ...).
    config, export_dir = training.recipe_config(
        "lstm_gru_mr", DEFAULTS, data_file="mr.csv.gz",
        description=__doc__,
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
