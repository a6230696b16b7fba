"""Best MR (sentence polarity) recipe: NBSVM on words, bigrams and subwords.

Run from the repository root (data: ``mr.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/best_mr.py
    python recipes/best_mr.py --out runs/best_mr --overwrite
    python recipes/best_mr.py --data my.csv --set subword_max_n=0

Words, hashed bigrams and the character 2-5-grams of every word (ids
computed inside the model with keras.ops from tables saved with it, so
the export still takes raw strings); each distinct feature of a sentence
contributes its naive Bayes log-count ratio, computed from the training
split before fitting, times a weight learned by the model (NBSVM, Wang &
Manning, 2012, as a Keras model). Trained from scratch, no pre-trained
embeddings. Settings were chosen by 5-fold cross-validation on the train
split (scikit-learn NB-LR: words+bigrams 77.2, + character 2-5-grams
78.5) and on the validation split carved from train, never on the test
split.

Measured: test accuracy 0.7889, macro-F1 0.7889 (2,132 sentences), 4
epochs, about 100 s for the whole run on 2 AMD EPYC CPU cores, no GPU,
seed 0. Without the subwords the same recipe scored 77.44; the TF-IDF
uni+bigram logistic regression baseline reaches 78.56% in the same run.
The 80.0% target is **not** reached; see benchmarks/RESULTS.md for
everything tried.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="nbsvm",  # log-count ratios of distinct features x learned weights
    epochs=15,  # early stopping (patience 2) restores the best epoch
    refit=True,  # then a fresh model on all of train for that many epochs
    batch_size=32,
    max_tokens=None,  # keep every training word
    maxlen=None,  # None: 95th percentile of training lengths
    learning_rate=1e-3,
    seed=0,
    export=False,  # exported below, into saved_models/best_mr
    # word 1-2-grams + character 2-5-grams of each word ("<word>")
    hparams=dict(max_n=2, buckets=2**20, subword_max_n=5, prior=0.0),
)
EXAMPLES = [
    "a gripping , beautifully acted story that stays with you",
    "a tedious mess with nothing new to say",
    "not as funny as it thinks it is",
]


def main():
    # 1. The config: defaults + command line (--data, --out, --set ...).
    config, export_dir = training.recipe_config(
        "best_mr", DEFAULTS, data_file="mr.csv.gz", description=__doc__,
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
