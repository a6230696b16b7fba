"""Best SMS spam recipe: n-gram embeddings -> BiGRU + attention.

Run from the repository root (data: ``sms_spam.csv.gz`` in
``$KERASSEQ_DATA_DIR`` or ``../shared/datasets``; any CSV with
text,label[,split] works):

    python recipes/best_sms_spam.py
    python recipes/best_sms_spam.py --out runs/best_sms_spam --overwrite
    python recipes/best_sms_spam.py --data my.csv --set max_n=3

Words plus hashed bigrams (ids computed inside the model with keras.ops,
so the export still takes raw strings) share one embedding table; the
embeddings of the n-grams starting at each word are summed, a BiGRU
reads them, and its attention-pooled states plus the masked mean of the
n-gram embeddings feed the softmax head. Trained from scratch, no
pre-trained embeddings. Settings were chosen on the validation split
carved from train, never on the test split (this model and the plain
n-gram bag tie at 98.0% validation accuracy; its validation loss is
lower).

Measured: test accuracy 0.9847, macro-F1 0.9677 (1,114 messages), 4 epochs,
236 s of training on 2 AMD EPYC CPU cores shared with other jobs (load
average ~5), no GPU, seed 0; the TF-IDF uni+bigram logistic regression
baseline reaches 98.65% / 97.05 in the same run; targets 99.0% / 97.5 not
reached. See benchmarks/RESULTS.md.
"""

from kerasseq import training

# ------------------------------------------------------------------ defaults
# Keys are `kerasseq.training.TrainConfig` fields; change any of them, or a
# model hyper-parameter, from the command line with --set key=value.
# An interrupted run resumes when the same command is run again.
DEFAULTS = dict(
    model="ngram_bigru",  # n-gram embeddings -> BiGRU -> attention + mean
    epochs=10,  # early stopping (patience 2) restores the best epoch
    batch_size=32,
    max_tokens=None,  # keep every training word
    maxlen=None,  # None: 95th percentile of training lengths
    learning_rate=2e-3,
    seed=0,
    export=False,  # exported below, into saved_models/best_sms_spam
    hparams=dict(max_n=2, embedding_dim=64, units=64, dropout=0.3,
                 buckets=2**18),
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
