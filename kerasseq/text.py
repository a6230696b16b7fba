"""Text standardization, tokenization and padding.

Standardization (`standardize`, one TensorFlow string-op function used by
both the Python path and the in-graph vectorizer, so both agree by
construction):

1. Unicode-aware lower-casing, ``tf.strings.lower(..., encoding="utf-8")``
   (`standardize_cased` skips this step; used when ``lower=False``).
2. The typographic apostrophe U+2019 becomes ``'``.
3. Every character that is not a letter, number or mark (RE2
   ``[^\\pL\\pN\\pM']``: punctuation, symbols, emoji, control characters,
   every kind of Unicode space) becomes a space.
4. Apostrophes at the edges of a word are removed, so ``don't`` stays one
   token while quotes around a word are stripped.
5. The result is split on whitespace (``tf.strings.split``).

Scripts written without spaces (Chinese, Japanese, Thai) are not segmented:
a run of such characters stays one token.

Ids: 0 = padding, 1 = out-of-vocabulary, words from 2 upward by descending
frequency, ties broken by the token string (code-point order).
Sequences are padded and truncated at the end (``padding="post"``,
``truncating="post"``).
"""

import json
import math

import keras
import numpy as np
import tensorflow as tf

from kerasseq.errors import ArtifactError, ConfigError, DataError

FORMAT = "kerasseq.tokenizer"
VERSION = 1
PAD_ID = 0
OOV_ID = 1
_BATCH = 4096
_NOT_WORD_CHAR = r"[^\pL\pN\pM']"
_TRAILING_APOSTROPHES = r"'+(\s|$)"
_LEADING_APOSTROPHES = r"(^|\s)'+"


def _separate_words(texts):
    texts = tf.strings.regex_replace(texts, "\u2019", "'")
    texts = tf.strings.regex_replace(texts, _NOT_WORD_CHAR, " ")
    texts = tf.strings.regex_replace(texts, _TRAILING_APOSTROPHES, " ")
    return tf.strings.regex_replace(texts, _LEADING_APOSTROPHES, " ")


@keras.saving.register_keras_serializable(package="kerasseq")
def standardize(texts):
    """Lower-cases `texts` (UTF-8) and turns non-word characters to spaces.

    See the module docstring for the exact rules. Takes and returns a
    string tensor of any shape.
    """
    return _separate_words(tf.strings.lower(texts, encoding="utf-8"))


@keras.saving.register_keras_serializable(package="kerasseq")
def standardize_cased(texts):
    """`standardize` without lower-casing (for ``Tokenizer(lower=False)``)."""
    return _separate_words(texts)


def _check_texts(texts):
    if isinstance(texts, (str, bytes)):
        raise DataError(
            "Expected a list of strings, received a single string. "
            "Wrap it in a list: [text]."
        )
    try:
        texts = list(texts)
    except TypeError:
        raise DataError(
            f"Expected a list of strings. Received: {type(texts).__name__}."
        ) from None
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(
                f"Expected every text to be a str; text {row} is "
                f"{type(text).__name__} ({text!r:.60}). Convert it to str "
                "or drop it."
            )
    return texts


def tokenize(texts, lower=True):
    """Standardizes and splits `texts`; returns one token list per text."""
    texts = _check_texts(texts)
    function = standardize if lower else standardize_cased
    tokens = []
    for start in range(0, len(texts), _BATCH):
        batch = tf.constant(texts[start : start + _BATCH], dtype=tf.string)
        words = tf.strings.split(function(batch)).to_list()
        tokens.extend([w.decode("utf-8") for w in row] for row in words)
    return tokens


def choose_maxlen(lengths, percentile=95, cap=500):
    """Sequence length covering `percentile` % of `lengths`.

    Returns ``ceil(np.percentile(lengths, percentile))`` clipped to
    ``[1, cap]``.
    """
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise DataError("Expected at least one length to choose maxlen from.")
    if not 0 <= percentile <= 100:
        raise ConfigError(
            "Expected percentile between 0 and 100. "
            f"Received: percentile={percentile}"
        )
    if not isinstance(cap, int) or cap < 1:
        raise ConfigError(
            f"Expected cap to be a positive integer. Received: cap={cap!r}"
        )
    value = math.ceil(float(np.percentile(lengths, percentile)))
    return int(min(max(value, 1), cap))


def pad(sequences, maxlen=None, *, padding="post", truncating="post", value=0):
    """`keras.utils.pad_sequences` with right padding and truncation.

    Returns an int32 array ``[len(sequences), maxlen]`` (``maxlen=None``:
    the longest sequence).
    """
    return keras.utils.pad_sequences(
        sequences,
        maxlen=maxlen,
        dtype="int32",
        padding=padding,
        truncating=truncating,
        value=value,
    )


def _rank_order(word_counts):
    return sorted(word_counts, key=lambda word: (-word_counts[word], word))


class Tokenizer:
    """Word tokenizer with the keras-preprocessing `Tokenizer` interface.

    Texts are standardized with `standardize` (``lower=True``) or
    `standardize_cased` (``lower=False``) and split on whitespace; see the
    module docstring for the rules (punctuation and symbols separate
    words, in-word apostrophes are kept, CJK runs stay one token).

    Ids: 0 = padding, 1 = `oov_token`, words from 2 upward by descending
    count, ties broken by the token string. `num_words` is the number of
    ids kept, including 0 and 1 (``None``: all words); words whose id is
    ``>= num_words`` map to 1, as in the old Keras `Tokenizer`.
    `word_index` holds every word seen (and `oov_token` at 1).

    `fit_on_texts` refits from scratch (counts are not accumulated over
    calls) and records `maxlen`: the 95th percentile of the training texts'
    lengths in tokens, rounded up, at least 1 and at most 500
    (`choose_maxlen`).

    Args:
        num_words: number of ids to keep including padding and OOV
            (at least 3), or ``None`` for every word seen.
        oov_token: the string shown for id 1 by `sequences_to_texts`.
        lower: lower-case texts before splitting.
    """

    def __init__(self, num_words=None, oov_token="[UNK]", lower=True):
        if num_words is not None and (
            isinstance(num_words, bool)
            or not isinstance(num_words, int)
            or num_words < 3
        ):
            raise ConfigError(
                "Expected num_words to be None or an integer >= 3 (padding, "
                f"OOV and at least one word). Received: num_words={num_words!r}"
            )
        if not isinstance(oov_token, str) or not oov_token:
            raise ConfigError(
                "Expected oov_token to be a non-empty string. "
                f"Received: oov_token={oov_token!r}"
            )
        if not isinstance(lower, bool):
            raise ConfigError(
                f"Expected lower to be True or False. Received: lower={lower!r}"
            )
        self.num_words = num_words
        self.oov_token = oov_token
        self.lower = lower
        self.maxlen = None
        self._ranked = []
        self.word_counts = {}
        self.word_index = {}
        self.index_word = {}

    def _set_counts(self, word_counts, maxlen):
        self.word_counts = dict(word_counts)
        self.maxlen = maxlen
        self._ranked = _rank_order(self.word_counts)
        self.word_index = {self.oov_token: OOV_ID}
        self.word_index.update(
            (word, rank) for rank, word in enumerate(self._ranked, start=2)
        )
        self.index_word = {i: word for word, i in self.word_index.items()}

    def _check_fitted(self):
        if self.maxlen is None:
            raise DataError(
                "This Tokenizer is not fitted yet. Call "
                "fit_on_texts(train_texts) or load one with "
                "Tokenizer.from_json(...) first."
            )

    def fit_on_texts(self, texts):
        """Builds the vocabulary and `maxlen` from `texts` (a list of str)."""
        tokens = tokenize(texts, self.lower)
        if not tokens:
            raise DataError(
                "Expected at least one text to fit the Tokenizer on. "
                "Received an empty list."
            )
        counts = {}
        for words in tokens:
            for word in words:
                if word != self.oov_token:
                    counts[word] = counts.get(word, 0) + 1
        if not counts:
            raise DataError(
                "No words found in the texts given to fit_on_texts (all "
                "empty or punctuation). Fit on texts that contain words."
            )
        self._set_counts(counts, choose_maxlen([len(w) for w in tokens]))
        return self

    @property
    def vocabulary(self):
        """Kept tokens in id order, starting at id 2."""
        self._check_fitted()
        if self.num_words is None:
            return list(self._ranked)
        return self._ranked[: self.num_words - 2]

    @property
    def vocab_size(self):
        """Number of ids in use (padding, OOV and `vocabulary`)."""
        return len(self.vocabulary) + 2

    def texts_to_sequences(self, texts):
        """Maps each text to a list of ids (``[]`` for an empty text)."""
        self._check_fitted()
        limit = self.vocab_size
        lookup = self.word_index
        sequences = []
        for words in tokenize(texts, self.lower):
            ids = (lookup.get(word, OOV_ID) for word in words)
            sequences.append([i if i < limit else OOV_ID for i in ids])
        return sequences

    def texts_to_padded(self, texts, maxlen=None):
        """`pad(texts_to_sequences(texts), maxlen)`; None: the fitted maxlen."""
        self._check_fitted()
        maxlen = self.maxlen if maxlen is None else maxlen
        return pad(self.texts_to_sequences(texts), maxlen)

    def sequences_to_texts(self, sequences):
        """Joins each id sequence back to words; padding (0) is skipped."""
        self._check_fitted()
        limit = self.vocab_size
        texts = []
        for row, sequence in enumerate(sequences):
            words = []
            for i in sequence:
                i = int(i)
                if i < 0:
                    raise DataError(
                        f"Expected non-negative ids; sequence {row} contains "
                        f"{i}. Pass ids produced by texts_to_sequences."
                    )
                if i == PAD_ID:
                    continue
                words.append(self.index_word[i if i < limit else OOV_ID])
            texts.append(" ".join(words))
        return texts

    def vectorizer(self, maxlen=None):
        """In-graph `keras.layers.TextVectorization` with this vocabulary.

        Maps a string tensor ``[B]`` (or ``[B, 1]``) to int ids
        ``[B, maxlen]`` equal to ``pad(texts_to_sequences(texts),
        maxlen)``; ``maxlen=None`` uses the fitted `maxlen`. The layer
        serializes with the registered `standardize`, so a model using it
        reloads with `keras.models.load_model` once `kerasseq.text` is
        imported. It runs on the TensorFlow backend and in `tf.data`.
        """
        self._check_fitted()
        maxlen = self.maxlen if maxlen is None else maxlen
        if not _is_int(maxlen, 1):
            raise ConfigError(
                "Expected maxlen to be a positive integer. "
                f"Received: maxlen={maxlen!r}"
            )
        return keras.layers.TextVectorization(
            standardize=standardize if self.lower else standardize_cased,
            split="whitespace",
            vocabulary=self.vocabulary or None,
            output_mode="int",
            output_sequence_length=maxlen,
        )

    def to_json(self):
        """Serializes the fitted tokenizer to a JSON string."""
        self._check_fitted()
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "num_words": self.num_words,
                "oov_token": self.oov_token,
                "lower": self.lower,
                "maxlen": self.maxlen,
                "word_counts": [
                    [word, self.word_counts[word]] for word in self._ranked
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text):
        """Rebuilds a tokenizer from `to_json` output.

        Raises `ArtifactError` naming the problem for malformed JSON.
        """
        config = _parse_json(text)
        tokenizer = cls(
            num_words=config["num_words"],
            oov_token=config["oov_token"],
            lower=config["lower"],
        )
        tokenizer._set_counts(dict(config["word_counts"]), config["maxlen"])
        return tokenizer


_REFIT = "Re-create it with Tokenizer.fit_on_texts(...).to_json()."


def _artifact_error(problem):
    return ArtifactError(f"Invalid tokenizer JSON: {problem}. {_REFIT}")


def _parse_json(text):
    if not isinstance(text, (str, bytes)):
        raise _artifact_error(
            f"expected a JSON string, received {type(text).__name__}"
        )
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:  # bad JSON or UTF-8
        raise _artifact_error(
            f"not valid JSON (truncated or edited?): {error}"
        ) from None
    if not isinstance(config, dict):
        raise _artifact_error("expected a JSON object at the top level")
    if config.get("format") != FORMAT:
        raise _artifact_error(
            f"key 'format' is {config.get('format')!r}, expected {FORMAT!r} "
            "(is this a kerasseq tokenizer file?)"
        )
    if config.get("version") != VERSION:
        raise _artifact_error(
            f"key 'version' is {config.get('version')!r}; this kerasseq "
            f"reads version {VERSION}"
        )
    expected = {
        "num_words": "null or an integer >= 3",
        "oov_token": "a non-empty string",
        "lower": "true or false",
        "maxlen": "a positive integer",
        "word_counts": "a list of [token, count] pairs",
    }
    for key, description in expected.items():
        if key not in config:
            raise _artifact_error(f"missing key {key!r} ({description})")
    checks = {
        "num_words": config["num_words"] is None
        or _is_int(config["num_words"], 3),
        "oov_token": isinstance(config["oov_token"], str)
        and bool(config["oov_token"]),
        "lower": isinstance(config["lower"], bool),
        "maxlen": _is_int(config["maxlen"], 1),
        "word_counts": isinstance(config["word_counts"], list),
    }
    for key, ok in checks.items():
        if not ok:
            raise _artifact_error(
                f"key {key!r} must be {expected[key]}, got {config[key]!r:.60}"
            )
    _check_word_counts(config["word_counts"], config["oov_token"])
    _check_standardized(config["word_counts"], config["lower"])
    return config


def _is_int(value, minimum):
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= minimum
    )


def _check_word_counts(pairs, oov_token):
    seen = set()
    for row, pair in enumerate(pairs):
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and pair[0]
            and _is_int(pair[1], 1)
        ):
            raise _artifact_error(
                f"word_counts[{row}] must be a [token, count] pair with a "
                f"non-empty token and a positive count, got {pair!r:.60}"
            )
        token = pair[0]
        if token in seen:
            raise _artifact_error(
                f"word_counts[{row}]: duplicate token {token!r}"
            )
        if token == oov_token:
            raise _artifact_error(
                f"word_counts[{row}]: token {token!r} equals oov_token"
            )
        seen.add(token)
    if not pairs:
        raise _artifact_error("word_counts is empty")
    counts = dict(pairs)
    if [pair[0] for pair in pairs] != _rank_order(counts):
        raise _artifact_error(
            "word_counts is not in id order (descending count, ties by token)"
        )


def _check_standardized(pairs, lower):
    tokens = [pair[0] for pair in pairs]
    for row, words in enumerate(tokenize(tokens, lower)):
        if words != [tokens[row]]:
            raise _artifact_error(
                f"word_counts[{row}]: token {tokens[row]!r} cannot come out "
                f"of standardization (lower={lower}); it would never match"
            )
