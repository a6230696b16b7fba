"""SimpleRNN on MR (movie-review sentence polarity, 2 classes).

Run from the repository root (data: ``mr.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/simple_rnn_mr.py
    python recipes/simple_rnn_mr.py --epochs 2 --set units=128
    python recipes/simple_rnn_mr.py --data my.csv --out runs/mine --overwrite

The plainest recurrent model: one SimpleRNN layer over masked
embeddings, max over its states (a plain RNN's last state keeps
little of the early words) -> softmax. A baseline for the gated
cells in lstm_gru_mr.py.

Measured: test accuracy 0.717 (2,132 sentences) with --epochs 2
(25 s wall) on 2 x86_64 CPU cores shared with other jobs, no GPU. A
short run only; the default 5 epochs should do somewhat better.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="simple_rnn",  # Embedding(mask_zero) -> SimpleRNN -> max -> softmax
    epochs=5,  # early stopping (patience 2) may stop sooner
    batch_size=64,
    max_tokens=20000,  # vocabulary incl. padding + OOV
    maxlen=None,  # None: 95th percentile of training lengths
    learning_rate=1e-3,
    seed=0,
    export=False,  # exported below, into saved_models/simple_rnn_mr
    hparams=dict(embedding_dim=128, units=64, dropout=0.3),
)
EXAMPLES = [
    "a gripping , beautifully acted story that stays with you",
    "a tedious mess with nothing new to say",
    "not as funny as it thinks it is",
]


def main():
    # 1. The config: defaults + command line (--data, --epochs, --set ...).
    config, export_dir = training.recipe_config(
        "simple_rnn_mr", DEFAULTS, data_file="mr.csv.gz",
        description=__doc__,
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
