"""`kerasseq.vectors`: word-vector files into the token embedding, and
`kerasseq vectors`; references recomputed here with NumPy and Python."""

import collections
import csv
import json

import keras
import numpy as np
import pytest

from kerasseq import cli, models, vectors
from kerasseq.errors import ConfigError
from kerasseq.text import Tokenizer

DIM = 4
TRAIN = [
    ("the movie was good and fun", "pos"),
    ("a good fun film", "pos"),
    ("great acting , the story was good", "pos"),
    ("the movie was bad and dull", "neg"),
    ("a bad dull film", "neg"),
    ("awful acting , the story was bad", "neg"),
] * 4
TEST = [("testonly words appear here good", "pos"),
        ("testonly bad", "neg")]
# File words: "The" (cased: matches "the" after standardization), words
# of the data, and words the data lacks.
FILE_WORDS = ["The", "movie", "good", "bad", "film", "fun", "dull",
              "zebra", "quantum"]


def _table():
    rng = np.random.default_rng(7)
    return {word: rng.normal(size=DIM).astype(np.float32)
            for word in FILE_WORDS}


def _train_texts():
    return [text for text, _ in TRAIN]


def _write_text(path, table, header):
    lines = [f"{len(table)} {DIM}"] if header else []
    lines += [word + " " + " ".join(repr(float(x)) for x in vector)
              for word, vector in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_binary(path, table):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(DIM)
    keyed.add_vectors(list(table), np.stack(list(table.values())))
    keyed.save_word2vec_format(str(path), binary=True)


def _write(tmp_path, kind, table):
    if kind == "glove":
        path = tmp_path / "glove.txt"
        _write_text(path, table, header=False)
    elif kind == "word2vec":
        path = tmp_path / "vectors.txt"
        _write_text(path, table, header=True)
    elif kind == "fasttext_vec":
        path = tmp_path / "vectors.vec"
        _write_text(path, table, header=True)
    else:
        path = tmp_path / "vectors.bin"
        _write_binary(path, table)
    return path


def _expected_rows(table, tokenizer):
    """``{id: vector}`` for the vocabulary words the file covers (the
    file's words lower-cased)."""
    lowered = {word.lower(): vector for word, vector in table.items()}
    return {tokenizer.word_index[word]: lowered[word]
            for word in tokenizer.vocabulary if word in lowered}


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(_train_texts())
    return tokenizer


@pytest.mark.parametrize("kind", ["glove", "word2vec", "fasttext_vec",
                                  "word2vec_binary"])
def test_matrix_rows_equal_file_vectors(tmp_path, tokenizer, kind):
    table = _table()
    loaded = vectors.load_vectors(_write(tmp_path, kind, table))
    matrix = vectors.embedding_matrix(loaded, tokenizer, DIM, seed=0)
    assert matrix.shape == (tokenizer.vocab_size, DIM)
    assert np.isfinite(matrix).all()
    expected = _expected_rows(table, tokenizer)
    assert len(expected) == 7  # the, movie, good, bad, film, fun, dull
    for row, vector in expected.items():
        np.testing.assert_allclose(matrix[row], vector, rtol=1e-6)
    np.testing.assert_array_equal(matrix[0], np.zeros(DIM))
    np.testing.assert_allclose(
        matrix[1], np.stack(list(table.values())).mean(axis=0), rtol=1e-5)


def test_fasttext_bin_gives_subword_vectors(tmp_path, tokenizer):
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    corpus = [text.split() for text in _train_texts()[:3]]  # no "dull"
    model = FastText(corpus, vector_size=DIM, min_count=1, epochs=1,
                     bucket=1000, seed=0, workers=1)
    path = tmp_path / "model.bin"
    save_facebook_model(model, str(path))
    loaded = vectors.load_vectors(path)
    matrix = vectors.embedding_matrix(loaded, tokenizer, DIM)
    for word in tokenizer.vocabulary:
        np.testing.assert_allclose(
            matrix[tokenizer.word_index[word]], model.wv.get_vector(word),
            rtol=1e-5, atol=1e-7)
    counted = vectors.coverage(loaded, tokenizer)
    missing = [w for w in tokenizer.vocabulary
               if w not in model.wv.key_to_index]
    assert missing and counted.subword == len(missing)


def test_coverage_equals_recount(tmp_path):
    tokenizer = Tokenizer(num_words=8)  # some found words are cut off
    tokenizer.fit_on_texts(_train_texts())
    table = _table()
    loaded = vectors.load_vectors(_write(tmp_path, "glove", table))
    counted = vectors.coverage(loaded, tokenizer)
    file_words = {word.lower() for word in table}
    tokens = collections.Counter(
        word for text in _train_texts() for word in text.split()
        if word != ",")
    kept = sorted(tokens, key=lambda w: (-tokens[w], w))[:6]
    found = [word for word in kept if word in file_words]
    assert counted.words == 6 and counted.found == len(found)
    assert counted.vocabulary == pytest.approx(len(found) / 6)
    assert counted.tokens == pytest.approx(
        sum(tokens[w] for w in found) / sum(tokens.values()), abs=1e-6)


@pytest.mark.parametrize("model_name", ["transformer", "ngram_bag",
                                        "bigru"])
def test_initialize_embedding_in_each_kind_of_model(tokenizer, model_name):
    matrix = np.arange(tokenizer.vocab_size * DIM, dtype=np.float32)
    matrix = matrix.reshape(tokenizer.vocab_size, DIM)
    hparams = {"embedding_dim": DIM}
    if model_name == "transformer":
        hparams.update(num_heads=1, intermediate_dim=4, num_blocks=1)
    model = models.build(model_name, tokenizer.vocab_size, 2, **hparams)
    vectors.initialize_embedding(model, matrix, trainable=False)
    layer = vectors.token_embedding(model)
    table = np.asarray(layer.embeddings.numpy())
    np.testing.assert_array_equal(table[:len(matrix)], matrix)
    assert not layer.trainable
    assert not any(w is layer.embeddings for w in model.trainable_weights)
    # The frozen flag survives serialization (a reloaded run stays frozen).
    clone = keras.Model.from_config(model.get_config())
    assert not vectors.token_embedding(clone).trainable
    assert len(clone.trainable_weights) == len(model.trainable_weights)


def test_model_without_token_embedding_is_refused(tmp_path):
    loaded = vectors.load_vectors(_write(tmp_path, "glove", _table()))
    with pytest.raises(ConfigError, match="no token embedding"):
        vectors.model_hparams("nbsvm", {}, loaded)


# ------------------------------------------------------------- training


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label", "split"])
        for split, examples in rows.items():
            for text, label in examples:
                writer.writerow([text, label, split])
    return path


@pytest.fixture
def data(tmp_path):
    return _write_csv(tmp_path / "data.csv", {"train": TRAIN, "test": TEST})


def test_frozen_vectors_survive_training_reload_and_export(tmp_path, data):
    from kerasseq import exporter
    from kerasseq.training import load_run, train

    table = _table()
    path = _write(tmp_path, "word2vec", table)
    result = train({
        "model": "bag_of_embeddings", "data": str(data),
        "out": str(tmp_path / "run"), "epochs": 2, "export": True,
        "embeddings": str(path), "embeddings_trainable": False,
        "hparams": {"hidden_units": 4}, "validation_fraction": 0.25,
    }, verbose=0)
    tokenizer = result.tokenizer
    expected = _expected_rows(table, tokenizer)
    trained = np.asarray(
        vectors.token_embedding(result.model).embeddings.numpy())
    assert result.config.hparams["embedding_dim"] == DIM
    for row, vector in expected.items():
        np.testing.assert_allclose(trained[row], vector, rtol=1e-6)
    np.testing.assert_array_equal(trained[0], np.zeros(DIM))

    record = json.loads((result.run_dir / "config.json").read_text())
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    file_words = {word.lower() for word in table}
    found = [w for w in tokenizer.vocabulary if w in file_words]
    for coverage in (record["embeddings_coverage"],
                     metrics["embeddings_coverage"]):
        assert coverage["found"] == len(found)
        assert coverage["words"] == len(tokenizer.vocabulary)

    path.unlink()  # serving never needs the file
    model, loaded_tokenizer, _ = load_run(result.run_dir)
    reloaded = np.asarray(vectors.token_embedding(model).embeddings.numpy())
    np.testing.assert_array_equal(reloaded, trained)
    texts = ["the movie was good", "a bad dull film"]
    padded = loaded_tokenizer.texts_to_padded(texts, result.config.maxlen)
    reference = result.model.predict(padded, verbose=0)
    served = exporter.predict(result.run_dir / "saved_model", texts)
    probabilities = np.array([[p["probabilities"][name]
                               for name in result.class_names]
                              for p in served])
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, reference, rtol=1e-5,
                               atol=1e-6)


def _bad_glove(tmp_path):
    path = tmp_path / "ragged.txt"
    path.write_text("good 1.0 2.0 3.0 4.0\nbad 1.0 oops\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "unreadable",
                                  "dimension", "no_overlap", "nbsvm"])
def test_bad_vectors_exit_2_and_leave_nothing(tmp_path, data, case, capsys):
    table = _table()
    path = _write(tmp_path, "glove", table)
    extra = []
    if case == "missing":
        path = tmp_path / "absent.txt"
    elif case == "empty":
        path = tmp_path / "empty.txt"
        path.write_text("")
    elif case == "unreadable":
        path = _bad_glove(tmp_path)
    elif case == "dimension":
        extra = ["--set", "embedding_dim=5"]
    elif case == "no_overlap":
        path = _write(tmp_path, "glove",
                      {"zebra": table["zebra"], "quantum": table["quantum"]})
    else:
        extra = ["--model", "nbsvm"]
    out = tmp_path / "run"
    code = cli.main(["train", "--data", str(data), "--out", str(out),
                     "--model", "bag_of_embeddings", "--epochs", "1",
                     "--no-export", "--embeddings", str(path), "--quiet",
                     *extra])
    assert code == 2
    message = capsys.readouterr().err
    assert message.startswith("error: ") and message.count("\n") == 1
    assert not out.exists()


# ------------------------------------------------------ kerasseq vectors


def test_vectors_command_trains_on_training_texts_only(tmp_path, data,
                                                        capsys):
    unlabeled = tmp_path / "unlabeled.csv"
    with open(unlabeled, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["text"], ["Zebras graze"],
                                    ["zebras run"]])
    lines = tmp_path / "lines.txt"
    lines.write_text("quantum leap\nquantum jump\n", encoding="utf-8")
    out = tmp_path / "trained.txt"
    code = cli.main(["vectors", "--data", str(data), "--data",
                     str(unlabeled), "--data", str(lines), "--out",
                     str(out), "--dim", "4", "--epochs", "1",
                     "--min-count", "1"])
    assert code == 0
    loaded = vectors.load_vectors(out)
    assert loaded.vector_size == 4 and np.isfinite(loaded.vectors).all()
    texts = _train_texts() + ["Zebras graze", "zebras run", "quantum leap",
                              "quantum jump"]
    words = collections.Counter(
        w for text in texts for w in text.lower().split() if w != ",")
    assert set(loaded.key_to_index) == set(words)  # no "testonly"
    printed = capsys.readouterr().out
    assert f"{len(words)} words, {sum(words.values())} tokens" in printed
    assert "the:" in printed  # nearest neighbours of a frequent word


def test_vectors_command_bad_source_exit_2(tmp_path):
    out = tmp_path / "trained.txt"
    code = cli.main(["vectors", "--data", str(tmp_path / "absent.csv"),
                     "--out", str(out)])
    assert code == 2
    assert list(tmp_path.iterdir()) == []
