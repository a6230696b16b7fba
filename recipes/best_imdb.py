"""Best IMDB (movie reviews) recipe: NBSVM with word 1- to 3-grams.

Run from the repository root (data: ``imdb.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/best_imdb.py
    python recipes/best_imdb.py --out runs/best_imdb --overwrite
    python recipes/best_imdb.py --data my.csv --set max_n=2

Words plus hashed bigrams and trigrams (ids computed inside the model with
keras.ops, so the export still takes raw strings); each distinct n-gram of
a review contributes its naive Bayes log-count ratio, computed from the
training split before fitting, times a weight learned by the model
(NBSVM, Wang & Manning, 2012, as a Keras model). Trained from scratch, no
pre-trained embeddings. Settings were chosen on the validation split
carved from train, never on the test split. Early stopping on that split
chooses the epoch count; a fresh model is then trained on all of train
for that many epochs (``refit``, with a tokenizer fitted again on all of
train) and is the one tested and exported.

Measured: test accuracy 0.9183, macro-F1 0.9183 (25,000 reviews), 6
epochs + refit 6, 534 s of training (577 s for the whole run,
tokenization included) on 2 AMD EPYC CPU cores, no GPU, seed 0; seeds 1
and 2: 0.9195, 0.9176 (mean 0.9185); target 91.0% reached. With 2**20
hashed ids (until the ninth session) it scored 0.9121 / 0.9126 / 0.9117
in 176 s. The TF-IDF uni+bigram logistic regression baseline reaches
90.13% in the same run.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="nbsvm",  # log-count ratios of distinct 1-3-grams x learned weights
    epochs=6,  # early stopping (patience 2) restores the best epoch
    refit=True,  # then a fresh model on all of train for that many epochs
    batch_size=64,
    max_tokens=None,  # keep every training word
    maxlen=2500,  # full reviews (the longest has ~2,500 words)
    learning_rate=1e-3,
    seed=0,
    export=False,  # exported below, into saved_models/best_imdb
    # 2**22 hashed ids for the 5.1M bigrams and trigrams of IMDB train: 30%
    # of them get an id of their own (0.8% with 2**20, 3x faster to train)
    hparams=dict(max_n=3, buckets=2**22, prior=0.0),
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
