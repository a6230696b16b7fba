"""Quickstart: BiLSTM + Bahdanau attention on the built-in synthetic corpus.

Run from the repository root (``make demo`` runs exactly this):

    python recipes/quickstart.py
    python recipes/quickstart.py --epochs 5 --set units=64

The corpus (``builtin:synthetic_sentiment``) is generated, so nothing is
downloaded; its labels depend on word order (negation, "but", "rather
than"), which a bag of words cannot read. Each run replaces
``runs/quickstart`` and the export in ``saved_models/quickstart``.

Measured: test accuracy 0.981 (800 sentences) after the default
4 epochs, 62 s wall for the whole script, on 2 x86_64 CPU cores shared
with other jobs (TensorFlow 2.21, Keras 3.15, no GPU).
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
DEFAULTS = dict(
    model="bilstm_bahdanau",  # BiLSTM encoder + additive attention pooling
    data="builtin:synthetic_sentiment",  # 4,000 generated sentences
    epochs=4,  # early stopping (patience 2) may stop sooner
    batch_size=32,
    learning_rate=3e-3,
    seed=0,
    overwrite=True,  # the demo starts from scratch every time
    export=False,  # exported below, into saved_models/quickstart
    hparams=dict(embedding_dim=32, units=32),
)
EXAMPLES = [
    "the acting was not at all boring or clumsy",
    "the plot seemed clever at first but ultimately tedious",
    "this film was brilliant rather than predictable",
]


def main():
    # 1. The config: defaults + command-line overrides.
    config, export_dir = training.recipe_config(
        "quickstart", DEFAULTS, description=__doc__
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
