"""Best IMDB (movie reviews) recipe: fastText-style bag of n-grams.

Run from the repository root (data: ``imdb.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/best_imdb.py
    python recipes/best_imdb.py --out runs/best_imdb --overwrite
    python recipes/best_imdb.py --data my.csv --set max_n=3

Words plus hashed bigrams (ids computed inside the model with keras.ops,
so the export still takes raw strings) share one embedding table; their
masked mean feeds the softmax head (Joulin et al., 2016). Trained from
scratch, no pre-trained embeddings. Settings were chosen on the
validation split carved from train, never on the test split.

Measured: test accuracy 0.8999, macro-F1 0.8999 (25,000 reviews), 8 epochs,
1032 s of training on 2 AMD EPYC CPU cores shared with other jobs (load
average ~5), no GPU, seed 0; the TF-IDF uni+bigram logistic regression
baseline reaches 90.13% in the same run; target 91.0% not reached. The
same settings took 620 s wall for the whole run (same accuracy) when the
machine was less loaded. See benchmarks/RESULTS.md.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="ngram_bag",  # words + hashed bigrams -> masked mean -> softmax
    epochs=10,  # early stopping (patience 2) restores the best epoch
    batch_size=64,
    max_tokens=None,  # keep every training word
    maxlen=2500,  # full reviews (the longest has ~2,500 words)
    learning_rate=2e-3,
    seed=0,
    export=False,  # exported below, into saved_models/best_imdb
    hparams=dict(max_n=2, embedding_dim=16, buckets=2**19),
)
EXAMPLES = [
    "One of the best films I have seen in years. The cast is superb and "
    "the story kept me hooked until the very last scene.",
    "I wanted to like it, but the script is lazy, the jokes fall flat and "
    "it drags on for two hours.",
    "Not bad, not great: a forgettable evening at the movies.",
]


def main():
    # 1. The config: defaults + command line (--data, --out, --set ...).
    config, export_dir = training.recipe_config(
        "best_imdb", DEFAULTS, data_file="imdb.csv.gz", description=__doc__,
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
