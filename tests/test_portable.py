"""Portable exports: ONNX / TFLite files, their example script, checks."""

import itertools
import json
import os
import subprocess
import sys
import unicodedata

import keras
import numpy as np
import pytest

from kerasseq import models, portable, portable_example
from kerasseq.errors import ArtifactError, ConfigError
from kerasseq.files import write_json
from kerasseq.text import Tokenizer, tokenize

TRAIN_TEXTS = [
    "a great film with a great cast",
    "what a wonderful and moving story",
    "i loved every minute of it",
    "brilliant acting and a clever plot",
    "a dull boring mess",
    "the worst film i have seen this year",
    "terrible script and awful acting",
    "i hated every minute of it",
]
CLASS_NAMES = ["negative", "positive"]
TEXTS = [
    "a great film",
    "",
    "Awful, AWFUL acting!!! I hated it.",
    "words never seen before zyzzyva",
    " ".join(TRAIN_TEXTS * 3),
    "ünïcödé film 🎬 don't",
]
TRICKY_TEXTS = [
    "Don't STOP! 'quoted' words’ and it’s o'clock ''' ' x'",
    "£1000 vs £5000, t&c apply. 3.14 1,000 ٣٤٥ ४५६ ½ ²",
    "İstanbul ΣΑΣ ΌΣΟΣ Straße ẞ ǅungla ﬁ ŉ",
    "café naïve résumé coöperate e\u0301 \u0301x",
    "emoji 👍🏽 ❤️ 🎬!! 👨‍👩‍👧 🇫🇷 #1 @you",
    "数字 123 日本語のテキスト ภาษาไทย",
    "tab\tnew\nline\r zero\u200bwidth nbsp\u00a0x",
    "<b>html</b> &amp; path/to-file_name.txt",
]


def _make_run(folder, model_name, **hparams):
    """A run directory as `kerasseq train` writes it, with fixed weights
    scaled up so that the classes are far apart."""
    tokenizer = Tokenizer().fit_on_texts(TRAIN_TEXTS)
    keras.utils.set_random_seed(0)
    model = models.build(model_name, tokenizer.vocab_size, 2, **hparams)
    model(tokenizer.texts_to_padded(TRAIN_TEXTS))
    head = model.layers[-1]
    head.set_weights([weight * 8 for weight in head.get_weights()])
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "tokenizer.json").write_text(tokenizer.to_json(), "utf-8")
    write_json(
        folder / "config.json",
        {
            "config": {"model": model_name, "maxlen": tokenizer.maxlen},
            "class_names": CLASS_NAMES,
        },
    )
    return folder, model, tokenizer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("portable") / "run"
    return _make_run(folder, "bag_of_embeddings", embedding_dim=8,
                     hidden_units=8)


@pytest.fixture(scope="module")
def expected(run):
    _, model, tokenizer = run
    ids = tokenizer.texts_to_padded(TEXTS)
    return np.asarray(model.predict_on_batch(ids))


@pytest.fixture(scope="module")
def onnx_export(run):
    from kerasseq.cli import main

    folder = run[0]
    assert main(["export", str(folder), "--format", "onnx", "--out",
                 str(folder.parent / "onnx")]) == 0
    return folder.parent / "onnx"


@pytest.fixture(scope="module")
def tflite_export(run):
    folder = run[0]
    return portable.export_portable(
        folder, folder.parent / "tflite", format="tflite"
    )


def _onnx_probabilities(path, ids):
    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    (inputs,) = session.get_inputs()
    assert inputs.name == portable.INPUT_NAME
    assert inputs.type == "tensor(int32)"
    return session.run(None, {portable.INPUT_NAME: ids})[0]


def _tflite_probabilities(path, ids):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (inputs,) = interpreter.get_input_details()
    (outputs,) = interpreter.get_output_details()
    assert list(inputs["shape"]) == [1, ids.shape[1]]
    rows = []
    for row in ids:
        interpreter.set_tensor(inputs["index"], row[None])
        interpreter.invoke()
        rows.append(interpreter.get_tensor(outputs["index"])[0])
    return np.stack(rows)


def test_onnx_matches_keras(run, onnx_export, expected):
    ids = run[2].texts_to_padded(TEXTS)
    actual = _onnx_probabilities(onnx_export / "model.onnx", ids)
    assert np.isfinite(actual).all()
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert set(os.listdir(onnx_export)) == {
        "model.onnx", "tokenizer.json", "metadata.json", "predict_example.py"
    }
    metadata = json.loads((onnx_export / "metadata.json").read_text())
    assert metadata["class_names"] == CLASS_NAMES
    assert metadata["maxlen"] == run[2].maxlen
    assert metadata["check"]["max_probability_difference"] <= 1e-4


def test_tflite_matches_keras(run, tflite_export, expected):
    ids = run[2].texts_to_padded(TEXTS)
    actual = _tflite_probabilities(tflite_export / "model.tflite", ids)
    assert np.isfinite(actual).all()
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_example_script_prints_keras_probabilities(onnx_export, expected):
    # kerasseq, TensorFlow and Keras cannot be imported in the subprocess.
    run_without_them = (
        "import runpy, sys\n"
        "for name in ('kerasseq', 'tensorflow', 'keras'):\n"
        "    sys.modules[name] = None\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", run_without_them,
         str(onnx_export / "predict_example.py"), *TEXTS],
        capture_output=True, text=True, check=True, cwd=onnx_export.parent,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == TEXTS
    actual = np.array(
        [[row["probabilities"][name] for name in CLASS_NAMES] for row in rows]
    )
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert [row["label"] for row in rows] == [
        CLASS_NAMES[i] for i in expected.argmax(axis=1)
    ]


def test_example_predict_on_tflite(tflite_export, expected):
    actual = portable_example.predict(tflite_export, TEXTS)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


@pytest.mark.parametrize(
    "lower, mask_digits, split_symbols",
    list(itertools.product((True, False), repeat=3)),
)
def test_example_ids_equal_tokenizer(lower, mask_digits, split_symbols):
    options = dict(
        lower=lower, mask_digits=mask_digits, split_symbols=split_symbols
    )
    tokenizer = Tokenizer(num_words=40, **options).fit_on_texts(
        TRAIN_TEXTS + TRICKY_TEXTS
    )
    vocabulary = portable_example.Vocabulary(tokenizer.to_json(), 12)
    texts = TRICKY_TEXTS + TEXTS
    assert [vocabulary.sequence(t) for t in texts] == (
        tokenizer.texts_to_sequences(texts)
    )
    np.testing.assert_array_equal(
        vocabulary.padded(texts), tokenizer.texts_to_padded(texts, 12)
    )


def test_example_standardization_on_every_old_character():
    # Every BMP code point assigned by Unicode 3.2 and the emoji blocks,
    # inside words, before apostrophes and marks; newer scripts may differ
    # between Python's Unicode tables and TensorFlow's.
    code_points = [
        c for c in range(0x10000)
        if unicodedata.ucd_3_2_0.category(chr(c)) != "Cn"
        and not 0xD800 <= c <= 0xDFFF
    ] + list(range(0x1F300, 0x1F700))
    texts = [
        f"a{chr(c)}B {chr(c)}'x' ab{chr(c)}\u0301 {chr(c)}\ufe0f{chr(c)}"
        for c in code_points
    ]
    assert [portable_example.standardize(t) for t in texts] == tokenize(texts)


def test_refuses_to_overwrite(run, onnx_export):
    before = (onnx_export / "model.onnx").read_bytes()
    with pytest.raises(ArtifactError, match="already exists.*overwrite"):
        portable.export_portable(run[0], onnx_export)
    assert (onnx_export / "model.onnx").read_bytes() == before


def test_failed_check_leaves_nothing(run, monkeypatch):
    out = run[0].parent / "too-strict"
    before = set(os.listdir(run[0].parent))
    monkeypatch.setitem(portable.TOLERANCES, None, -1.0)
    with pytest.raises(ArtifactError, match="disagrees with the Keras model"):
        portable.export_portable(run[0], out)
    assert set(os.listdir(run[0].parent)) == before


def test_unsupported_layer_names_it_and_working_formats(tmp_path):
    folder, _, _ = _make_run(
        tmp_path / "run", "simple_rnn", embedding_dim=4, units=4
    )
    with pytest.raises(ArtifactError) as caught:
        portable.export_portable(folder, tmp_path / "out")
    message = str(caught.value)
    assert "MaskedGlobalPooling1D" in message and "mode='max'" in message
    assert "tflite" in message
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_converter_error_names_layer_and_op(tmp_path, monkeypatch):
    folder, _, _ = _make_run(tmp_path / "run", "bigru", embedding_dim=4,
                             units=4)
    # The converter's message for a recurrent layer with a dynamic batch.
    message = (
        '<unknown>:0: error: loc(callsite(fused["TensorListReserve:", '
        '"bigru_1/bigru_1_1/backward_gru_1_1/TensorArrayV2_1@__inference_'
        'function_6383"])): \'tf.TensorListReserve\' op requires '
        "element_shape to be static during TF Lite transformation pass"
    )

    def fail(*args, **kwargs):
        raise RuntimeError(message)

    monkeypatch.setattr(keras.Model, "export", fail)
    with pytest.raises(ArtifactError) as caught:
        portable.export_portable(folder, tmp_path / "out", format="tflite")
    assert "layer 'bigru_1' (Bidirectional)" in str(caught.value)
    assert "unsupported op tf.TensorListReserve" in str(caught.value)
    assert "Formats that work for model 'bigru': onnx" in str(caught.value)
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_bad_options(run, tmp_path):
    with pytest.raises(ConfigError, match="format"):
        portable.export_portable(run[0], tmp_path / "x", format="coreml")
    with pytest.raises(ConfigError, match="quantization"):
        portable.export_portable(run[0], tmp_path / "x", quantize="int4")


@pytest.mark.parametrize(
    "format, quantize",
    [("onnx", "dynamic"), ("onnx", "float16"), ("tflite", "float16")],
)
def test_quantized_export_within_tolerance(run, expected, format, quantize):
    folder, _, tokenizer = run
    out = portable.export_portable(
        folder, folder.parent / f"{format}-{quantize}", format=format,
        quantize=quantize,
    )
    ids = tokenizer.texts_to_padded(TEXTS)
    model_file = out / portable.MODEL_FILES[format]
    if format == "onnx":
        actual = _onnx_probabilities(model_file, ids)
    else:
        actual = _tflite_probabilities(model_file, ids)
    assert np.isfinite(actual).all()
    tolerance = portable.TOLERANCES[quantize]
    np.testing.assert_allclose(actual, expected, atol=tolerance)
    np.testing.assert_array_equal(
        actual.argmax(axis=1), expected.argmax(axis=1)
    )
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["quantize"] == quantize
    assert metadata["check"]["tolerance"] == tolerance
