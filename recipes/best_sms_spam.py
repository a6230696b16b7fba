"""Best SMS spam recipe: NBSVM on words, digits masked, symbols kept.

Run from the repository root (data: ``sms_spam.csv.gz`` in
``$KERASSEQ_DATA_DIR`` or ``../shared/datasets``; any CSV with
text,label[,split] works):

    python recipes/best_sms_spam.py
    python recipes/best_sms_spam.py --out runs/best_sms_spam --overwrite
    python recipes/best_sms_spam.py --data my.csv --set max_n=2

The tokenizer maps every digit to 0 (``mask_digits``: phone numbers,
short codes and prices share tokens) and keeps punctuation and symbols
as tokens (``split_symbols``: ``£``, ``!``, ``&``); both run inside the
exported model too. Each distinct word of a message contributes its
naive Bayes log-count ratio, computed from the training split before
fitting, times a weight learned by the model (NBSVM, Wang & Manning,
2012, as a Keras model). Trained from scratch, no pre-trained
embeddings. Settings were chosen on the validation split carved from
train, never on the test split. Early stopping on that split chooses the
epoch count; a fresh model is then trained on all of train for that many
epochs (``refit``, with a tokenizer fitted again on all of train) and
is the one tested and exported.

Measured: test accuracy 0.9946, macro-F1 0.9882 (1,114 messages), 15
epochs + refit 13, 61 s of training (63 s for the whole run) on 2 AMD
EPYC CPU cores, no GPU, seed 0; targets 99.0% / 97.5 reached (seeds 1
and 2: see benchmarks/RESULTS.md). The TF-IDF uni+bigram logistic
regression baseline reaches 98.65% / 97.05 in the same run.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="nbsvm",  # log-count ratios of distinct words x learned weights
    epochs=20,  # early stopping (patience 2) restores the best epoch
    refit=True,  # then a fresh model on all of train for that many epochs
    batch_size=32,
    max_tokens=None,  # keep every training word
    mask_digits=True,  # 07781 482378 -> 00000 000000
    split_symbols=True,  # "£", "!" and "&" are tokens
    maxlen=None,  # None: 95th percentile of training lengths
    learning_rate=1e-3,
    seed=0,
    export=False,  # exported below, into saved_models/best_sms_spam
    hparams=dict(max_n=1, buckets=2**20, prior=0.0),
)
EXAMPLES = [
    "WINNER!! You have won a 1000 cash prize. Call 09061701461 now to "
    "claim, T&C apply",
    "Ok lar, see you at 7 then. Bring the keys pls",
    "Free entry in 2 a wkly comp to win FA Cup final tkts, txt FA to 87121",
]


def main():
    # 1. The config: defaults + command line (--data, --out, --set ...).
    config, export_dir = training.recipe_config(
        "best_sms_spam", DEFAULTS, data_file="sms_spam.csv.gz",
        description=__doc__,
    )

    # 2. Train: tokenizer, tf.data pipeline, fit, evaluate, run directory.
    result = training.train(config)

    # 3. Report (classification report + confusion matrix), export a model
    #    taking raw strings into saved_models/, classify the EXAMPLES with it.
    training.finish_recipe(result, export_dir, EXAMPLES)


if __name__ == "__main__":
    training.run_recipe(main)
