"""Word vectors: read them (gensim), turn them into an embedding matrix,
put them into a model, and train them on any text source.

Formats (`load_vectors`): GloVe text (no header), word2vec text and
binary, fastText ``.vec`` (word2vec text) and fastText ``.bin``, whose
subword n-grams also give vectors to words the file lacks.

Matching: a tokenizer word takes the vector of the same file word, else
of the first (most frequent) file word that kerasseq's standardization
turns into it (``"The"`` for ``the`` in a cased file). Row 0 (padding)
is zeros, row 1 (OOV) the mean vector, words without a vector draw from
a normal distribution with the file's mean and standard deviation.
"""

import dataclasses
import functools
import time
from pathlib import Path

import numpy as np

from kerasseq.errors import ConfigError, DataError
from kerasseq.text import OOV_ID, PAD_ID

FORMATS = ("auto", "glove", "word2vec", "word2vec_binary", "fasttext_bin")
METHODS = ("word2vec", "fasttext")
TEXT_SUFFIXES = (".txt", ".txt.gz")


def load_vectors(path, format="auto"):
    """Word vectors from `path` as a gensim ``KeyedVectors``.

    `format` is one of `FORMATS`; ``"auto"``: a ``.bin`` file is fastText
    if gensim reads it as such, else word2vec binary; a text file is
    word2vec (``.vec``) if its first line is two integers, else GloVe.

    Raises:
        DataError: the file is missing, empty or unreadable.
        ConfigError: unknown `format`.
    """
    if format not in FORMATS:
        raise ConfigError(
            f"vectors format must be one of {', '.join(FORMATS)}; got "
            f"{format!r}"
        )
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"embeddings file {path} does not exist; give the path of a "
            "GloVe, word2vec or fastText vectors file"
        )
    stat = path.stat()
    if stat.st_size == 0:
        raise DataError(f"embeddings file {path} is empty")
    return _load(str(path.resolve()), format, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _load(path, format, mtime_ns, size):
    """`load_vectors` behind a cache (a refit reads the file once)."""
    from gensim.models import KeyedVectors
    from gensim.models.fasttext import load_facebook_vectors

    if format == "auto":
        format = _guess_format(path)
    try:
        if format == "fasttext_bin":
            vectors = load_facebook_vectors(path)
        else:
            vectors = KeyedVectors.load_word2vec_format(
                path, binary=format == "word2vec_binary",
                no_header=format == "glove")
    except Exception as error:  # gensim raises many kinds on bad input
        raise DataError(
            f"cannot read embeddings file {path} as {format} vectors "
            f"({type(error).__name__}: {error}); give a GloVe, word2vec or "
            "fastText file"
        ) from None
    if len(vectors) == 0 or vectors.vector_size < 1:
        raise DataError(f"embeddings file {path} holds no vectors")
    if not np.isfinite(vectors.vectors).all():
        raise DataError(f"embeddings file {path} holds NaN or infinite "
                        "values")
    return vectors


def _guess_format(path):
    from gensim import utils

    if path.lower().endswith(".bin"):
        with utils.open(path, "rb") as file:
            magic = file.read(4)
        # fastText's .bin starts with the int32 magic number 793712314.
        if int.from_bytes(magic, "little") == 793712314:
            return "fasttext_bin"
        return "word2vec_binary"
    try:
        with utils.open(path, "rb") as file:
            first = file.readline().decode("utf-8").split()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(
            f"cannot read embeddings file {path} ({error}); give a GloVe, "
            "word2vec or fastText file"
        ) from None
    header = len(first) == 2 and all(part.isdigit() for part in first)
    return "word2vec" if header else "glove"


@dataclasses.dataclass
class Coverage:
    """How much of a tokenizer's vocabulary the vectors cover.

    ``words``: kept vocabulary words (ids 2 up); ``found``: those with a
    file vector; ``subword``: those with a fastText subword vector only;
    ``vocabulary``: ``found / words``; ``tokens``: the share of training
    token occurrences whose word is kept and found.
    """

    words: int
    found: int
    subword: int
    vocabulary: float
    tokens: float

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        text = (f"{self.found}/{self.words} vocabulary words "
                f"({self.vocabulary:.1%}), {self.tokens:.1%} of training "
                "tokens")
        if self.subword:
            text += f", {self.subword} more from subwords"
        return text


def _standardized_index(vectors, tokenizer):
    """``{standardized word: file row}`` for the file words that
    standardize to one token; the first (most frequent) row wins."""
    from kerasseq.text import tokenize

    keys = list(vectors.index_to_key)
    tokens = tokenize(keys, tokenizer.lower, tokenizer.mask_digits,
                      tokenizer.split_symbols)
    index = {}
    for row, words in enumerate(tokens):
        if len(words) == 1:
            index.setdefault(words[0], row)
    return index


def _match(vectors, tokenizer):
    """``(rows, subword)``: file row of each vocabulary word (-1 if none)
    and the words that only a fastText subword vector covers."""
    vocabulary = tokenizer.vocabulary
    exact = vectors.key_to_index
    standardized = None
    rows = np.full(len(vocabulary), -1, dtype=np.int64)
    for position, word in enumerate(vocabulary):
        if word in exact:
            rows[position] = exact[word]
            continue
        if standardized is None:
            standardized = _standardized_index(vectors, tokenizer)
        rows[position] = standardized.get(word, -1)
    from gensim.models.fasttext import FastTextKeyedVectors

    subword = []
    if isinstance(vectors, FastTextKeyedVectors) and vectors.bucket > 0:
        subword = [word for word, row in zip(vocabulary, rows, strict=True)
                   if row < 0]
    return rows, subword


def coverage(vectors, tokenizer):
    """`Coverage` of ``tokenizer.vocabulary`` by `vectors`.

    Raises:
        DataError: no vocabulary word has a vector.
    """
    rows, subword = _match(vectors, tokenizer)
    found = rows >= 0
    counts = np.array([tokenizer.word_counts[word]
                       for word in tokenizer.vocabulary], dtype=np.int64)
    total = sum(tokenizer.word_counts.values())
    result = Coverage(
        words=len(rows), found=int(found.sum()), subword=len(subword),
        vocabulary=round(float(found.mean()) if len(rows) else 0.0, 6),
        tokens=round(float(counts[found].sum() / total) if total else 0.0,
                     6),
    )
    if result.found + result.subword == 0:
        raise DataError(
            "no word of the training vocabulary is in the embeddings file; "
            "check that the file's language matches the data, or "
            "train vectors on it with `kerasseq vectors`"
        )
    return result


def embedding_matrix(vectors, tokenizer, dim, seed=0):
    """``[tokenizer.vocab_size, dim]`` float32 initial embedding.

    Row i is the vector of the word with id i; row 0 zeros, row 1 the
    mean vector; words without a vector draw from a normal distribution
    with the vectors' mean and standard deviation (seeded by `seed`).

    Raises:
        ConfigError: `dim` differs from the vectors' size.
    """
    if dim != vectors.vector_size:
        raise ConfigError(
            f"the embeddings file has {vectors.vector_size}-dimensional "
            f"vectors but the model's embedding_dim is {dim}; set "
            f"hparams={{'embedding_dim': {vectors.vector_size}}} or leave "
            "embedding_dim unset"
        )
    table = vectors.vectors.astype(np.float32)
    mean, std = table.mean(), table.std()
    rng = np.random.default_rng(seed)
    matrix = rng.normal(mean, std, (tokenizer.vocab_size, dim))
    matrix = matrix.astype(np.float32)
    rows, subword = _match(vectors, tokenizer)
    found = np.flatnonzero(rows >= 0)
    matrix[found + 2] = table[rows[found]]
    for word in subword:
        matrix[tokenizer.word_index[word]] = vectors.get_vector(word)
    matrix[PAD_ID] = 0.0
    matrix[OOV_ID] = table.mean(axis=0)
    return matrix


# ------------------------------------------------------------ the model


def token_embedding(model):
    """The model's token `keras.layers.Embedding`: the token table of a
    `TokenAndPositionEmbedding`, else the first ``Embedding`` layer (word
    ids first in its rows).

    Raises:
        ConfigError: the model has no token embedding.
    """
    import keras

    from kerasseq.layers import TokenAndPositionEmbedding

    for layer in model.layers:
        if isinstance(layer, TokenAndPositionEmbedding):
            return layer.token_embedding
        if isinstance(layer, keras.layers.Embedding):
            return layer
    raise ConfigError(
        f"model {model.name!r} has no token embedding, so it cannot use "
        "embeddings; choose a model with one (`kerasseq models`) or use "
        "embeddings=None"
    )


def initialize_embedding(model, matrix, trainable=True):
    """Copies `matrix` into the first rows of the model's token embedding
    and sets its ``trainable`` (call before ``compile``)."""
    import keras

    layer = token_embedding(model)
    table = np.array(keras.ops.convert_to_numpy(layer.embeddings))
    table[:len(matrix)] = matrix
    layer.embeddings.assign(table)
    layer.trainable = trainable


def model_hparams(model_name, hparams, vectors):
    """`hparams` with ``embedding_dim`` set to the vectors' size when not
    given.

    Raises:
        ConfigError: the model has no ``embedding_dim`` (no token
            embedding) or a given one differs from the vectors' size.
    """
    from kerasseq import models

    size = vectors.vector_size
    if "embedding_dim" not in models.default_hparams(model_name):
        raise ConfigError(
            f"model {model_name!r} has no token embedding, so it cannot "
            "use embeddings; choose a model with an embedding_dim "
            "(`kerasseq models --verbose`) or use embeddings=None"
        )
    dim = hparams.get("embedding_dim", size)
    if dim != size:
        raise ConfigError(
            f"the embeddings file has {size}-dimensional vectors but "
            f"embedding_dim is {dim}; use hparams={{'embedding_dim': "
            f"{size}}} or leave embedding_dim unset"
        )
    return {**hparams, "embedding_dim": size}


def initialize_from_config(model, config, tokenizer):
    """Loads ``config.embeddings`` into the model's token embedding (a
    no-op without embeddings); call before ``compile``."""
    if config.embeddings is None:
        return
    matrix = embedding_matrix(load_vectors(config.embeddings), tokenizer,
                              config.hparams["embedding_dim"], config.seed)
    initialize_embedding(model, matrix, config.embeddings_trainable)


# ------------------------------------------------------ training vectors


def corpus_texts(source):
    """The texts of `source` for training vectors: a ``.txt`` file (one
    text per line), a CSV/TSV/JSONL file with a text column and no label
    column, or any `kerasseq.load_dataset` source (its training split
    only, never the test split)."""
    from kerasseq.datasets import load_dataset
    from kerasseq.datasets.files import LABEL_COLUMNS, TEXT_COLUMNS

    path = Path(source)
    name = path.name.lower()
    if path.is_file() and name.endswith(TEXT_SUFFIXES):
        from gensim import utils

        with utils.open(str(path), "rb") as file:
            lines = file.read().decode("utf-8", errors="replace")
        return [line for line in lines.splitlines() if line.strip()]
    if path.is_file():
        columns = _columns(path)
        if columns is not None and not set(columns) & set(LABEL_COLUMNS):
            text = next((c for c in TEXT_COLUMNS if c in columns), None)
            if text is None:
                raise DataError(
                    f"{path}: no text column; name one of "
                    f"{', '.join(TEXT_COLUMNS)}"
                )
            return _read_column(path, text)
    return list(load_dataset(source).train_texts)


def _columns(path):
    """The column names of a CSV/TSV/JSONL file (None for other files)."""
    import csv
    import json

    from kerasseq.datasets.files import file_format

    try:
        kind, gzipped = file_format(path)
    except DataError:
        return None
    with _open(path, gzipped) as file:
        if kind == "jsonl":
            line = file.readline()
            try:
                record = json.loads(line)
            except ValueError:
                return None
            return list(record) if isinstance(record, dict) else None
        return next(csv.reader(file, delimiter="\t" if kind == "tsv"
                               else ","), [])


def _read_column(path, column):
    import csv
    import json

    from kerasseq.datasets.files import file_format

    kind, gzipped = file_format(path)
    with _open(path, gzipped) as file:
        if kind == "jsonl":
            rows = (json.loads(line) for line in file if line.strip())
        else:
            csv.field_size_limit(10_000_000)
            rows = csv.DictReader(
                file, delimiter="\t" if kind == "tsv" else ",")
        return [str(row.get(column) or "") for row in rows]


def _open(path, gzipped):
    import gzip

    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def train_vectors(texts, method="word2vec", dim=100, epochs=5, min_count=2,
                  seed=0, workers=1):
    """A gensim ``Word2Vec`` or ``FastText`` model trained on `texts`
    tokenized by kerasseq's standardization (one worker: the same `seed`
    gives the same vectors)."""
    from gensim.models import FastText, Word2Vec

    from kerasseq.text import tokenize

    sentences = [words for words in tokenize(texts) if words]
    if not sentences:
        raise DataError("the corpus holds no words to train vectors on")
    kind = Word2Vec if method == "word2vec" else FastText
    return kind(sentences, vector_size=dim, epochs=epochs,
                min_count=min_count, seed=seed, workers=workers)


def vectors_command(sources, out, method="word2vec", dim=100, epochs=5,
                    min_count=2, seed=0, verbose=True):
    """``kerasseq vectors``: trains vectors on `sources` and writes them
    to `out` as a word2vec text file (which ``embeddings=`` reads).

    Returns a dict of vocabulary size, token count, seconds and the
    nearest neighbours of the most frequent words.

    Raises:
        ConfigError: bad method, sizes or output path.
        DataError: an unreadable source or a corpus with too few words.
    """
    if method not in METHODS:
        raise ConfigError(
            f"method must be one of {', '.join(METHODS)}; got {method!r}"
        )
    for name, value in (("dim", dim), ("epochs", epochs),
                        ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{name} must be an integer >= 1; got {value!r}"
            )
    out = Path(out)
    if out.is_dir() or not out.parent.is_dir():
        raise ConfigError(
            f"out={str(out)!r} must be a file in an existing folder; "
            "create the folder or name a file"
        )
    texts = [text for source in sources for text in corpus_texts(source)]
    start = time.perf_counter()
    model = train_vectors(texts, method, dim, epochs, min_count, seed)
    seconds = round(time.perf_counter() - start, 2)
    vectors = model.wv
    if len(vectors) == 0:
        raise DataError(
            f"no word occurs min_count={min_count} times in the corpus; "
            "lower min_count or give more text"
        )
    _save(vectors, out)
    neighbours = {
        word: [other for other, _ in vectors.most_similar(word, topn=5)]
        for word in vectors.index_to_key[:5] if len(vectors) > 1
    }
    summary = {"vocabulary": len(vectors), "tokens": model.corpus_total_words,
               "texts": len(texts), "dim": dim, "method": method,
               "seconds": seconds, "neighbours": neighbours, "out": str(out)}
    if verbose:
        print(f"{method}: {summary['vocabulary']} words, {summary['tokens']} "
              f"tokens in {len(texts)} texts, {seconds} s -> {out}")
        for word, others in neighbours.items():
            print(f"  {word}: {', '.join(others)}")
    return summary


def _save(vectors, out):
    """Writes `vectors` as word2vec text to `out` atomically."""
    from kerasseq.files import write_atomically

    def write(file):
        file.write(f"{len(vectors)} {vectors.vector_size}\n")
        for word in vectors.index_to_key:
            values = " ".join(f"{x:.6g}" for x in vectors[word])
            file.write(f"{word} {values}\n")

    write_atomically(out, write)


__all__ = [
    "Coverage",
    "corpus_texts",
    "coverage",
    "embedding_matrix",
    "initialize_embedding",
    "initialize_from_config",
    "load_vectors",
    "model_hparams",
    "token_embedding",
    "train_vectors",
    "vectors_command",
]
