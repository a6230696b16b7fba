"""Text standardization, tokenization and padding.

Standardization (one TensorFlow string-op function per combination of
options, used by both the Python path and the in-graph vectorizer, so both
agree by construction; `standardizer` returns it):

1. Unicode-aware lower-casing, ``tf.strings.lower(..., encoding="utf-8")``
   (skipped when ``lower=False``).
2. ``mask_digits=True`` only: every decimal digit (RE2 ``\\p{Nd}``, any
   script) becomes ``0``, so ``£1000`` and ``£5000`` both give ``0000``.
3. The typographic apostrophe U+2019 becomes ``'``.
4. Default: every character that is not a letter, number or mark (RE2
   ``[^\\pL\\pN\\pM']``: punctuation, symbols, emoji, control characters,
   every kind of Unicode space) becomes a space.
   ``split_symbols=True``: every punctuation or symbol character except
   ``'`` (Unicode P* and S*, emoji included) becomes a token of its own,
   together with the marks that follow it, such as an emoji's variation
   selector (``win £5!`` gives ``win £ 5 !``; ``t&c`` gives ``t & c``;
   a skin-tone modifier is a symbol of its own); every other character
   that is not a letter, number or mark (control characters, spaces,
   unassigned code points) becomes a space.
5. Apostrophes at the edges of a word are removed, so ``don't`` stays one
   token while quotes around a word are stripped.
6. The result is split on whitespace (``tf.strings.split``).

Scripts written without spaces (Chinese, Japanese, Thai) are not segmented:
a run of such characters stays one token.

The functions are registered with Keras as ``kerasseq>NAME``: `standardize`
(the defaults), `standardize_cased` (``lower=False``), with
``_mask_digits`` and then ``_split_symbols`` appended for those options
(``standardize_cased_mask_digits_split_symbols``).

Ids: 0 = padding, 1 = out-of-vocabulary, words from 2 upward by descending
frequency, ties broken by the token string (code-point order).
Sequences are padded and truncated at the end (``padding="post"``,
``truncating="post"``).

TensorFlow (the string ops) is imported when texts are first
standardized, not with this module, so other Keras backends can import
kerasseq without it.
"""

import itertools
import json
import math

import keras
import numpy as np

from kerasseq.errors import ArtifactError, ConfigError, DataError

FORMAT = "kerasseq.tokenizer"
VERSION = 1
PAD_ID = 0
OOV_ID = 1
_BATCH = 4096
_DIGIT = r"\p{Nd}"
_NOT_WORD_CHAR = r"[^\pL\pN\pM']"
_NOT_WORD_OR_SYMBOL_CHAR = r"[^\pL\pN\pM\pP\pS]"
_SYMBOL_WITH_MARKS = r"(?:[^\PP']|\pS)\pM*"  # P* but not ', or S*
_TRAILING_APOSTROPHES = r"'+(\s|$)"
_LEADING_APOSTROPHES = r"(^|\s)'+"


def _standardize(texts, lower, mask_digits, split_symbols):
    import tensorflow as tf

    if lower:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if mask_digits:
        texts = tf.strings.regex_replace(texts, _DIGIT, "0")
    texts = tf.strings.regex_replace(texts, "\u2019", "'")
    if split_symbols:
        texts = tf.strings.regex_replace(texts, _NOT_WORD_OR_SYMBOL_CHAR, " ")
        texts = tf.strings.regex_replace(texts, _SYMBOL_WITH_MARKS, r" \0 ")
    else:
        texts = tf.strings.regex_replace(texts, _NOT_WORD_CHAR, " ")
    texts = tf.strings.regex_replace(texts, _TRAILING_APOSTROPHES, " ")
    return tf.strings.regex_replace(texts, _LEADING_APOSTROPHES, " ")


def _standardizer_name(lower, mask_digits, split_symbols):
    name = "standardize" if lower else "standardize_cased"
    if mask_digits:
        name += "_mask_digits"
    if split_symbols:
        name += "_split_symbols"
    return name


def _build_standardizer(lower, mask_digits, split_symbols):
    def function(texts):
        return _standardize(texts, lower, mask_digits, split_symbols)

    name = _standardizer_name(lower, mask_digits, split_symbols)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (
        f"Standardizes `texts` with lower={lower}, mask_digits={mask_digits},"
        f" split_symbols={split_symbols} (rules in the `kerasseq.text` "
        "docstring). Takes and returns a string tensor of any shape."
    )
    register = keras.saving.register_keras_serializable
    return register(package="kerasseq", name=name)(function)


_STANDARDIZERS = {
    flags: _build_standardizer(*flags)
    for flags in itertools.product((True, False), repeat=3)
}
standardize = _STANDARDIZERS[True, False, False]
standardize_cased = _STANDARDIZERS[False, False, False]


def _check_flag(name, value):
    if not isinstance(value, bool):
        raise ConfigError(
            f"Expected {name} to be True or False. Received: {name}={value!r}"
        )


def standardizer(lower=True, mask_digits=False, split_symbols=False):
    """The registered standardization function for these options.

    ``standardizer()`` is `standardize`, ``standardizer(lower=False)`` is
    `standardize_cased`; see the module docstring for the rules.
    """
    _check_flag("lower", lower)
    _check_flag("mask_digits", mask_digits)
    _check_flag("split_symbols", split_symbols)
    return _STANDARDIZERS[lower, mask_digits, split_symbols]


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


def tokenize(texts, lower=True, mask_digits=False, split_symbols=False):
    """Standardizes and splits `texts`; returns one token list per text.

    The options are those of `Tokenizer` (rules in the module docstring).
    """
    import tensorflow as tf

    function = standardizer(lower, mask_digits, split_symbols)
    texts = _check_texts(texts)
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

    Texts are standardized with ``standardizer(lower, mask_digits,
    split_symbols)`` and split on whitespace; see the module docstring for
    the rules (punctuation and symbols separate words, in-word apostrophes
    are kept, CJK runs stay one token).

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
        mask_digits: turn every decimal digit into ``0`` (``£1000`` and
            ``£5000`` share the token ``0000``).
        split_symbols: make every punctuation or symbol character except
            the apostrophe a token of its own instead of a space.
    """

    def __init__(
        self,
        num_words=None,
        oov_token="[UNK]",
        lower=True,
        mask_digits=False,
        split_symbols=False,
    ):
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
        self._standardize = standardizer(lower, mask_digits, split_symbols)
        self.num_words = num_words
        self.oov_token = oov_token
        self.lower = lower
        self.mask_digits = mask_digits
        self.split_symbols = split_symbols
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

    def _tokenize(self, texts):
        return tokenize(texts, self.lower, self.mask_digits, self.split_symbols)

    def fit_on_texts(self, texts):
        """Builds the vocabulary and `maxlen` from `texts` (a list of str)."""
        tokens = self._tokenize(texts)
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
        for words in self._tokenize(texts):
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
        serializes with the registered standardization function (see
        `standardizer`), so a model using it reloads with
        `keras.models.load_model` once `kerasseq` is imported. It runs on
        the TensorFlow backend and in `tf.data`.
        """
        self._check_fitted()
        maxlen = self.maxlen if maxlen is None else maxlen
        if not _is_int(maxlen, 1):
            raise ConfigError(
                "Expected maxlen to be a positive integer. "
                f"Received: maxlen={maxlen!r}"
            )
        return keras.layers.TextVectorization(
            standardize=self._standardize,
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
                "mask_digits": self.mask_digits,
                "split_symbols": self.split_symbols,
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

        JSON without ``mask_digits`` or ``split_symbols`` (written before
        these options existed) loads with them False. Raises
        `ArtifactError` naming the problem for malformed JSON.
        """
        config = _parse_json(text)
        tokenizer = cls(
            num_words=config["num_words"],
            oov_token=config["oov_token"],
            lower=config["lower"],
            mask_digits=config["mask_digits"],
            split_symbols=config["split_symbols"],
        )
        tokenizer._set_counts(dict(config["word_counts"]), config["maxlen"])
        return tokenizer


_FLAGS = ("lower", "mask_digits", "split_symbols")
_OPTIONAL_KEYS = {"mask_digits": False, "split_symbols": False}
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
    config = {**_OPTIONAL_KEYS, **config}
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
        "mask_digits": "true or false",
        "split_symbols": "true or false",
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
        "mask_digits": isinstance(config["mask_digits"], bool),
        "split_symbols": isinstance(config["split_symbols"], bool),
        "maxlen": _is_int(config["maxlen"], 1),
        "word_counts": isinstance(config["word_counts"], list),
    }
    for key, ok in checks.items():
        if not ok:
            raise _artifact_error(
                f"key {key!r} must be {expected[key]}, got {config[key]!r:.60}"
            )
    _check_word_counts(config["word_counts"], config["oov_token"])
    _check_standardized(config)
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


def _check_standardized(config):
    flags = {name: config[name] for name in _FLAGS}
    tokens = [pair[0] for pair in config["word_counts"]]
    for row, words in enumerate(tokenize(tokens, **flags)):
        if words != [tokens[row]]:
            options = ", ".join(f"{k}={v}" for k, v in flags.items())
            raise _artifact_error(
                f"word_counts[{row}]: token {tokens[row]!r} cannot come out "
                f"of standardization ({options}); it would never match"
            )
