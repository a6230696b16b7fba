"""Export: SavedModel + .keras string-in model, reload parity, CLI predict."""

import io
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseq
from kerasseq import exporter
from kerasseq.errors import ArtifactError, ConfigError, DataError
from kerasseq.predict_command import predict_command, read_texts
from kerasseq.text import Tokenizer

TRAIN_TEXTS = [
    "a great film with a great cast",
    "what a wonderful and moving story",
    "i loved every minute of it",
    "brilliant acting and a clever plot",
    "a dull boring mess",
    "the worst film i have seen this year",
    "terrible script and awful acting",
    "i hated every minute of it",
    "it was fine, nothing special",
    "an average film with some good parts",
]
CLASS_NAMES = ["negative", "neutral", "positive"]
TINY = {
    "lstm": {"embedding_dim": 8, "units": 8},
    "bilstm_bahdanau": {"embedding_dim": 8, "units": 8},
    "transformer": {
        "embedding_dim": 8,
        "num_heads": 2,
        "num_blocks": 1,
        "intermediate_dim": 16,
        "max_length": 64,
    },
}
TEXTS = [
    "a great film",
    "",
    "Awful, AWFUL acting!!! I hated it.",
    "words never seen before zyzzyva",
    " ".join(TRAIN_TEXTS * 5),
    "ünïcödé film 🎬 don't",
]


def _pad(tokenizer, texts):
    ids = tokenizer.texts_to_sequences(texts)
    return keras.utils.pad_sequences(
        ids, maxlen=tokenizer.maxlen, padding="post", truncating="post"
    )


@pytest.fixture(scope="module")
def tokenizer():
    return Tokenizer().fit_on_texts(TRAIN_TEXTS)


@pytest.fixture(scope="module")
def exports(tokenizer, tmp_path_factory):
    """One export per model family: name -> (model, export path).

    Only the lstm export runs the exporter's self-check (three reloads);
    test_reloaded_exports_match_in_memory_model does those reloads for
    every family itself."""
    root = tmp_path_factory.mktemp("exports")
    built = {}
    for name, hparams in TINY.items():
        keras.utils.set_random_seed(0)
        model = kerasseq.models.build(
            name, tokenizer.vocab_size, len(CLASS_NAMES), **hparams
        )
        path = exporter.export(
            model,
            tokenizer,
            CLASS_NAMES,
            root / name,
            metadata={
                "model_name": name,
                "model_config": hparams,
                "metrics": {"accuracy": 0.5},
            },
            check=name == "lstm",
            check_texts=TEXTS,
        )
        built[name] = (model, path)
    return built


@pytest.mark.parametrize("name", sorted(TINY))
def test_reloaded_exports_match_in_memory_model(exports, tokenizer, name):
    model, path = exports[name]
    expected = model.predict(_pad(tokenizer, TEXTS), verbose=0)
    batch = tf.constant(TEXTS)

    signature = tf.saved_model.load(str(path)).signatures["serving_default"]
    served = signature(text=batch)
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    from_layer = layer(batch)
    string_model = keras.models.load_model(path / "model.keras")
    from_keras = string_model.predict(batch, verbose=0)

    assert np.isfinite(expected).all()
    for probabilities in (
        served["probabilities"],
        from_layer["probabilities"],
        from_keras,
    ):
        assert np.isfinite(probabilities).all()
        np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    labels = [CLASS_NAMES[i] for i in np.argmax(served["probabilities"], -1)]
    assert [x.decode() for x in served["label"].numpy()] == labels
    assert served["probabilities"].dtype == tf.float32


def test_export_layout_and_metadata(exports, tokenizer):
    _, path = exports["lstm"]
    assert (path / "saved_model.pb").is_file()
    assert (path / "variables").is_dir()
    meta = json.loads((path / "kerasseq.json").read_text())
    assert meta["class_names"] == CLASS_NAMES
    assert meta["maxlen"] == tokenizer.maxlen
    assert meta["vocab_size"] == tokenizer.vocab_size
    assert meta["model"]["name"] == "lstm"
    assert meta["metrics"] == {"accuracy": 0.5}
    assert meta["versions"]["tensorflow"] == tf.__version__
    assert meta["signature"]["inputs"] == {
        "text": {"dtype": "string", "shape": [None]}
    }
    reloaded = Tokenizer.from_json((path / "tokenizer.json").read_text())
    assert reloaded.word_index == tokenizer.word_index
    leftovers = [p.name for p in path.parent.iterdir() if p.name[0] == "."]
    assert leftovers == []


def test_serving_signature_spec(exports):
    _, path = exports["lstm"]
    signature = exporter.load_export(path)
    inputs = signature.structured_input_signature[1]
    assert inputs == {"text": tf.TensorSpec([None], tf.string, name="text")}
    outputs = signature.structured_outputs
    assert outputs["probabilities"].shape.as_list() == [None, 3]
    assert outputs["label"].dtype == tf.string


def test_overwrite_refused_then_allowed(exports, tokenizer, tmp_path):
    model, _ = exports["lstm"]
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(ArtifactError, match="overwrite=True"):
        exporter.export(model, tokenizer, CLASS_NAMES, target, check=False)
    assert (target / "keep.txt").read_text() == "old"

    exporter.export(
        model, tokenizer, CLASS_NAMES, target, overwrite=True, check=False
    )
    assert not (target / "keep.txt").exists()
    assert (target / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_interrupted_export_leaves_nothing(
    exports, tokenizer, tmp_path, monkeypatch, error
):
    model, _ = exports["lstm"]

    def fail(*args):
        raise error("interrupted")

    monkeypatch.setattr(exporter, "_write_keras_model", fail)
    with pytest.raises(error):
        exporter.export(model, tokenizer, CLASS_NAMES, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_old_export(
    exports, tokenizer, tmp_path, monkeypatch
):
    model, _ = exports["lstm"]
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("old")

    def fail(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(exporter, "_write_json_files", fail)
    with pytest.raises(KeyboardInterrupt):
        exporter.export(model, tokenizer, CLASS_NAMES, target, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (target / "keep.txt").read_text() == "old"


def test_failed_self_check_raises_and_leaves_nothing(
    exports, tokenizer, tmp_path
):
    model, _ = exports["lstm"]
    other = Tokenizer().fit_on_texts(["zebra " * 3 + t for t in TRAIN_TEXTS])
    with pytest.raises(ArtifactError, match="self-check failed"):
        _export_with_wrong_vectorizer(model, tokenizer, other, tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


def test_self_check_refuses_nan_outputs(tokenizer, tmp_path):
    keras.utils.set_random_seed(0)
    model = kerasseq.models.build("bag_of_embeddings", tokenizer.vocab_size,
                                  len(CLASS_NAMES), embedding_dim=4,
                                  hidden_units=4)
    kernel = model.get_layer("classifier").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    with pytest.raises(ArtifactError):
        exporter.export(model, tokenizer, CLASS_NAMES, tmp_path / "nan")
    assert list(tmp_path.iterdir()) == []


def _export_with_wrong_vectorizer(model, tokenizer, other, path):
    """A tokenizer whose in-graph vectorizer uses another vocabulary."""

    class Mismatched:
        maxlen = tokenizer.maxlen
        vocab_size = tokenizer.vocab_size
        texts_to_sequences = tokenizer.texts_to_sequences
        to_json = tokenizer.to_json

        @staticmethod
        def vectorizer(maxlen):
            return other.vectorizer(maxlen)

    exporter.export(model, Mismatched(), CLASS_NAMES, path)


def test_bad_arguments(exports, tokenizer, tmp_path):
    model, _ = exports["lstm"]
    with pytest.raises(ConfigError, match="Expected 3 class_names"):
        exporter.export(model, tokenizer, ["a", "b"], tmp_path / "x")
    with pytest.raises(ConfigError, match="JSON-serializable"):
        exporter.export(
            model,
            tokenizer,
            CLASS_NAMES,
            tmp_path / "x",
            metadata={"bad": object()},
        )
    with pytest.raises(ConfigError, match="finite numbers"):
        exporter.export(model, tokenizer, CLASS_NAMES, tmp_path / "x",
                        metadata={"metrics": {"loss": float("nan")}})
    assert list(tmp_path.iterdir()) == []


def test_predict_command_on_file_of_1000_lines(exports, tmp_path):
    _, path = exports["lstm"]
    lines = [f"{TRAIN_TEXTS[i % 10]} number {i}" for i in range(1000)]
    input_file = tmp_path / "texts.txt"
    input_file.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    assert predict_command(path, input_file=input_file, out=out) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 1000
    assert [row["text"] for row in rows] == lines
    for row in rows[:20]:
        assert row["label"] in CLASS_NAMES
        assert set(row["probabilities"]) == set(CLASS_NAMES)
        assert sum(row["probabilities"].values()) == pytest.approx(1, abs=1e-5)
        best = max(row["probabilities"], key=row["probabilities"].get)
        assert row["label"] == best


def test_predict_matches_model(exports, tokenizer):
    model, path = exports["bilstm_bahdanau"]
    expected = model.predict(_pad(tokenizer, TEXTS), verbose=0)
    rows = exporter.predict(path, TEXTS)
    got = [[row["probabilities"][c] for c in CLASS_NAMES] for row in rows]
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_read_texts_csv_and_lines(tmp_path):
    csv_file = tmp_path / "data.csv"
    csv_file.write_text('label,text\npos,"a great, great film"\nneg,bad\n')
    assert read_texts(csv_file) == ["a great, great film", "bad"]
    headed = tmp_path / "data.txt"
    headed.write_text('review,id\n"so good",1\n')
    assert read_texts(headed, text_column="review") == ["so good"]
    plain = tmp_path / "plain.txt"
    plain.write_text("one, two\nthree\n")
    assert read_texts(plain) == ["one, two", "three"]
    with pytest.raises(DataError, match="--text-column"):
        read_texts(csv_file, text_column="review")
    with pytest.raises(DataError, match="does not exist"):
        read_texts(tmp_path / "missing.txt")


def test_predict_command_needs_one_source(exports):
    _, path = exports["lstm"]
    with pytest.raises(ConfigError, match="not both"):
        predict_command(path)
    with pytest.raises(ConfigError, match="not both"):
        predict_command(path, texts=["x"], input_file="f.txt")


def test_fresh_process_serves_with_tensorflow_only(exports, tokenizer):
    """A fresh interpreter serves the SavedModel with only TensorFlow
    imported, then loads `model.keras` after `import kerasseq` with no
    custom_objects; both give the in-memory model's probabilities."""
    model, path = exports["bilstm_bahdanau"]
    code = textwrap.dedent(
        f"""
        import json
        import sys
        import tensorflow as tf
        texts = tf.constant({TEXTS!r})
        serve = tf.saved_model.load({str(path)!r}).signatures[
            "serving_default"]
        out = serve(texts)
        assert "kerasseq" not in sys.modules
        print(json.dumps([out["probabilities"].numpy().tolist(),
                          [x.decode() for x in out["label"].numpy()]]))

        import keras
        import kerasseq
        model = keras.models.load_model({str(path / "model.keras")!r})
        print(json.dumps(model.predict(texts, verbose=0).tolist()))
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    served, loaded = result.stdout.strip().splitlines()[-2:]
    probabilities, labels = json.loads(served)
    expected = model.predict(_pad(tokenizer, TEXTS), verbose=0)
    for got in (probabilities, json.loads(loaded)):
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert labels == [CLASS_NAMES[i] for i in np.argmax(probabilities, 1)]


def test_missing_and_corrupted_exports(exports, tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        exporter.load_export(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="kerasseq.json is missing"):
        exporter.load_export(empty)

    _, path = exports["lstm"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "kerasseq.json").write_text((path / "kerasseq.json").read_text())
    with pytest.raises(ArtifactError, match="no saved_model.pb"):
        exporter.load_export(broken)
    (broken / "saved_model.pb").write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(ArtifactError, match="corrupted"):
        exporter.predict(broken, ["a great film"])
    (broken / "kerasseq.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        exporter.load_export(broken)
