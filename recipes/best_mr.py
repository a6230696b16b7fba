"""Best MR (sentence polarity) recipe: three NBSVMs, averaged.

Run from the repository root (data: ``mr.csv.gz`` in ``$KERASSEQ_DATA_DIR``
or ``../shared/datasets``; any CSV with text,label[,split] works):

    python recipes/best_mr.py
    python recipes/best_mr.py --out runs/best_mr --overwrite
    python recipes/best_mr.py --data my.csv --set seed=1

The average of three models' class probabilities, one Keras model
(`kerasseq.ensemble.train_ensemble`), exported as one raw-string model:

1. ``nbsvm`` on words, hashed bigrams and the character 2-5-grams of
   every word: each distinct feature of a sentence contributes its naive
   Bayes log-count ratio (computed from the training split before
   fitting) times a learned weight (NBSVM, Wang & Manning, 2012, as a
   Keras model).
2. ``nbsvm`` on words and bigrams only, which early stopping lets train
   longer.
3. ``nbsvm`` on a character view without word features: the character
   2-5-grams of every word plus the character n-grams of up to 7
   characters that span two adjacent words ("ng fun"), as a character
   n-gram model sees them, computed from the word ids.

Trained from scratch, no pre-trained embeddings. Each member: early
stopping on the validation split carved from train chooses the epoch
count, then a fresh model (and tokenizer) is trained on all of train
for that many epochs (``refit``). Chosen on train only, never on the
test split, by 5-fold cross-validation of kerasseq models
(``benchmarks/ensemble.py --folds 5``; out-of-fold accuracy on the
8,530 training sentences): these three 78.99, the first two 78.68, the
first member alone 78.16 (all with maxlen 64; with the default maxlen,
the 95th percentile, 34 words: 78.87 / 78.73 / 77.84). Cross-validation
that refits each fold's members as this recipe does: these three 79.59,
the first alone 78.87; averaging two seeds of members 1 and 2
(``repeats=2``) adds nothing there (79.52), so the recipe does not.

Measured: test accuracy 0.7988 (2,132 sentences); 436 s for the whole
run on 2 AMD EPYC CPU cores, no GPU, seed 0 (seeds 1 and 2: 0.7955,
0.8002; mean 0.7982). The TF-IDF uni+bigram logistic regression
baseline reaches 78.56% in the same run. The 80.0% target is reached on
one seed of three (3 sentences short on seed 0); see
benchmarks/RESULTS.md for everything tried.
"""

from kerasseq import ensemble, training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields shared by all members
# (data, seed, split, tokenizer, maxlen, refit); change them from the command
# line with --set key=value. The members' own settings are in MEMBERS.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="ensemble",  # the run's name: the average of MEMBERS
    batch_size=32,
    max_tokens=None,  # keep every training word
    maxlen=64,  # longer than any MR sentence: bag features see every word
    seed=0,
    refit=True,  # after early stopping, fresh members on all of train
    export=False,  # exported below, into saved_models/best_mr
)
MEMBERS = [
    dict(
        model="nbsvm",  # log-count ratios of distinct features x weights
        epochs=15,  # early stopping (patience 2) picks the refit's count
        # word 1-2-grams + character 2-5-grams of each word ("<word>")
        hparams=dict(max_n=2, buckets=2**20, subword_max_n=5, prior=0.0),
    ),
    dict(
        model="nbsvm",  # the same without character n-grams
        epochs=30,  # words and bigrams alone train for longer
        hparams=dict(max_n=2, buckets=2**20, prior=0.0),
    ),
    dict(
        model="nbsvm",  # a character view: no word features, only the
        # character 2-5-grams of each word and the character n-grams of up
        # to 7 characters across adjacent words ("ng fun")
        epochs=30,
        learning_rate=2e-4,  # 1e-3 stops after 1-2 epochs, 5x lower: 10-13
        hparams=dict(max_n=0, subword_max_n=5, boundary_max_n=7, prior=0.0),
    ),
]
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

    # 2. Train each member (tokenizer, tf.data pipeline, fit, refit), then
    #    evaluate their average and write the run directory.
    result = ensemble.train_ensemble(config, MEMBERS)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
