"""Portable exports of a trained run: ONNX and TFLite on token ids.

Layout of an export folder ``OUT``::

    OUT/model.onnx or OUT/model.tflite
                            # ids: int32 [batch, maxlen] (TFLite: [1, maxlen]),
                            # right-padded with 0 -> probabilities: float32
                            # [batch, classes]
    OUT/tokenizer.json      # the run's tokenizer (vocabulary and options)
    OUT/metadata.json       # class names, maxlen, format, quantization and
                            # the self-check's result
    OUT/predict_example.py  # text -> probabilities with only NumPy and the
                            # runtime (`kerasseq.portable_example`)

String ops do not travel to these runtimes, so the files take ids; the
example script re-implements the standardization in plain Python.
ONNX comes from Keras' ``model.export(format="onnx")`` (tf2onnx), TFLite
from ``model.export(format="litert")`` restricted to the built-in TFLite
ops (no Flex delegate), with a static batch of 1: recurrent layers convert
only with static shapes. Quantization: ``"dynamic"`` stores weights as
int8 (TFLite ``Optimize.DEFAULT``, ONNX Runtime ``quantize_dynamic``),
``"float16"`` stores them as float16 and computes in float32.

Every export is checked against the Keras model before it is moved into
place; see `export_portable`. TensorFlow backend only.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from kerasseq import portable_example
from kerasseq.errors import ArtifactError, ConfigError
from kerasseq.exporter import _move_into_place, _refuse_existing
from kerasseq.files import read_json, write_atomically, write_json

FORMATS = ("onnx", "tflite")
QUANTIZATIONS = ("dynamic", "float16")
# Largest allowed |probability difference| with the Keras model.
TOLERANCES = {None: 1e-4, "float16": 1e-2, "dynamic": 5e-2}
MODEL_FILES = {"onnx": "model.onnx", "tflite": "model.tflite"}
INPUT_NAME = "ids"
FORMAT_NAME = "kerasseq-portable"
FORMAT_VERSION = 1
EXAMPLE_FILE = "predict_example.py"
METADATA_FILE = "metadata.json"
TOKENIZER_FILE = "tokenizer.json"

CHECK_TEXTS = (
    "",
    "a great film",
    "A GREAT film!!! ... isn't it?",
    "  leading and trailing spaces  ",
    "ünïcödé wörds, émojis 🎬 and 数字 123",
    "Don’t 'quote' me: £1000, t&c apply 👍🏽",
)
_VOCABULARY_TEXTS = 8


def export_portable(
    run_dir, out, format="onnx", quantize=None, overwrite=False,
    check_texts=None,
):
    """Writes an ONNX or TFLite export of the run in `run_dir` to `out`.

    The folder is built in a temp folder beside `out`, checked, then
    renamed into place; nothing is left behind on failure. The check
    runs the export (through ``predict_example.py``'s own tokenization)
    and the Keras model on `CHECK_TEXTS`, texts made of vocabulary words
    and `check_texts`: the ids must equal the Tokenizer's, probabilities
    must be finite and within ``TOLERANCES[quantize]`` of the Keras
    model's, and the predicted class must agree wherever the Keras
    model's top two probabilities are further apart than twice that
    tolerance. The result is stored under ``"check"`` in metadata.json.

    Args:
        run_dir: a finished ``kerasseq train`` run directory.
        out: the export folder to create.
        format: ``"onnx"`` or ``"tflite"``.
        quantize: ``None`` (float32), ``"dynamic"`` or ``"float16"``.
        overwrite: replace an existing `out`.
        check_texts: extra texts for the check.

    Returns:
        The export folder as a `pathlib.Path`.

    Raises:
        ConfigError: unknown `format` or `quantize`.
        ArtifactError: `out` exists without `overwrite`, `run_dir` is not
            a complete run, the model cannot be converted to `format`
            (the message names the layer or op and the formats that
            work), or the export disagrees with the Keras model.
    """
    from kerasseq.training import load_run

    _check_options(format, quantize)
    out = Path(out)
    _refuse_existing(out, overwrite)
    model, tokenizer, record = load_run(run_dir)
    maxlen = record["config"].get("maxlen") or tokenizer.maxlen
    class_names = list(record["class_names"])
    model_name = record["config"].get("model")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        convert(model, tmp / MODEL_FILES[format], format, maxlen, quantize,
                model_name)
        write_atomically(
            tmp / TOKENIZER_FILE, lambda file: file.write(tokenizer.to_json())
        )
        source = Path(portable_example.__file__).read_text(encoding="utf-8")
        write_atomically(tmp / EXAMPLE_FILE, lambda file: file.write(source))
        batch = 1 if format == "tflite" else None
        metadata = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "model_format": format,
            "model_file": MODEL_FILES[format],
            "quantize": quantize,
            "model_name": model_name,
            "class_names": class_names,
            "maxlen": maxlen,
            "input": {
                "name": INPUT_NAME,
                "dtype": "int32",
                "shape": [batch, maxlen],
                "padding": "right, with 0; 1 = out-of-vocabulary",
            },
            "output": {"dtype": "float32", "shape": [batch, len(class_names)]},
        }
        write_json(tmp / METADATA_FILE, metadata)
        texts = list(CHECK_TEXTS) + _vocabulary_texts(tokenizer, maxlen)
        texts += list(check_texts or [])
        metadata["check"] = self_check(tmp, model, tokenizer, texts, quantize)
        write_json(tmp / METADATA_FILE, metadata)
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def default_out(run_dir, format, quantize=None):
    """``RUN_DIR/onnx``, ``RUN_DIR/tflite-dynamic``, ...: where the CLI
    puts an export when no folder is given."""
    return Path(run_dir) / "-".join(filter(None, (format, quantize)))


def _check_options(format, quantize):
    if format not in FORMATS:
        raise ConfigError(
            f"Unknown export format {format!r}; choose one of "
            f"{', '.join(FORMATS)}."
        )
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ConfigError(
            f"Unknown quantization {quantize!r}; choose one of "
            f"{', '.join(QUANTIZATIONS)} or leave it out for float32."
        )


def convert(model, path, format, maxlen, quantize=None, model_name=None):
    """Converts the Keras `model` (ids -> probabilities) to `path`.

    Raises `ArtifactError` naming the layer or op when `format` cannot
    hold the model.
    """
    import tensorflow as tf

    _check_options(format, quantize)
    _refuse_known_failures(model, format, model_name)
    batch = 1 if format == "tflite" else None
    signature = [tf.TensorSpec([batch, maxlen], tf.int32, name=INPUT_NAME)]
    try:
        if format == "onnx":
            model.export(
                str(path), format="onnx", input_signature=signature,
                verbose=False,
            )
            if quantize:
                _quantize_onnx(path, quantize)
        else:
            model.export(
                str(path), format="litert", input_signature=signature,
                verbose=False, **_litert_options(quantize),
            )
    except ArtifactError:
        raise
    except Exception as error:
        raise _conversion_error(model, format, model_name, error) from None


def _litert_options(quantize):
    import tensorflow as tf

    target_spec = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    if quantize == "float16":
        target_spec["supported_types"] = [tf.float16]
    options = {"target_spec": target_spec}
    if quantize:
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    return options


def _quantize_onnx(path, quantize):
    import onnx

    if quantize == "dynamic":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = path.with_suffix(".int8.onnx")
        quantize_dynamic(path, quantized, weight_type=QuantType.QInt8)
        os.replace(quantized, path)
        return
    model = onnx.load(path)
    _store_weights_as_float16(model.graph)
    onnx.save(model, path)


def _store_weights_as_float16(graph):
    """Stores every float32 initializer as float16 plus a Cast back to
    float32, so the file halves while the arithmetic stays float32."""
    import onnx
    from onnx import numpy_helper

    casts = []
    for initializer in graph.initializer:
        if initializer.data_type != onnx.TensorProto.FLOAT:
            continue
        name = initializer.name
        values = numpy_helper.to_array(initializer).astype(np.float16)
        initializer.CopyFrom(numpy_helper.from_array(values, f"{name}_fp16"))
        casts.append(
            onnx.helper.make_node(
                "Cast", [f"{name}_fp16"], [name], to=onnx.TensorProto.FLOAT
            )
        )
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)


# (format, layer class, config key, value, why): layers that convert
# without an error but compute something else in that format.
_KNOWN_FAILURES = (
    (
        "onnx", "MaskedGlobalPooling1D", "mode", "max",
        "tf2onnx turns its masked maximum (a where() over -inf) into NaN",
    ),
)

# Which format each registered model converts to (small hparams, vocab
# 50, 2 classes; docs/portable-export.md).
CONVERTS_TO = {
    "bag_of_embeddings": ("onnx", "tflite"),
    "bigru": ("onnx", "tflite"),
    "bilstm": ("onnx", "tflite"),
    "bilstm_bahdanau": ("onnx", "tflite"),
    "bilstm_luong_concat": ("onnx", "tflite"),
    "bilstm_luong_dot": ("onnx", "tflite"),
    "bilstm_luong_general": ("onnx", "tflite"),
    "gru": ("onnx", "tflite"),
    "lstm": ("onnx", "tflite"),
    "nbsvm": ("onnx", "tflite"),
    "ngram_bag": ("onnx", "tflite"),
    "ngram_bigru": ("onnx", "tflite"),
    "simple_rnn": ("tflite",),
    "transformer": ("onnx", "tflite"),
}


def _working_formats(format, model_name):
    others = [f for f in CONVERTS_TO.get(model_name, ()) if f != format]
    if others:
        return f"Formats that work for model {model_name!r}: " + ", ".join(
            others
        ) + "."
    return "No other portable format is known to work for this model."


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _refuse_known_failures(model, format, model_name):
    for layer in _layers(model):
        config = layer.get_config()
        for fmt, class_name, key, value, why in _KNOWN_FAILURES:
            if (
                fmt == format
                and type(layer).__name__ == class_name
                and config.get(key) == value
            ):
                raise ArtifactError(
                    f"Cannot export to {format}: layer {layer.name!r} "
                    f"({class_name}, {key}={value!r}) does not convert "
                    f"({why}). {_working_formats(format, model_name)}"
                )


def _conversion_error(model, format, model_name, error):
    text = str(error)
    ops = sorted(set(re.findall(r"'(tf\.\w+)' op", text)))
    ops += sorted(set(re.findall(r"Tensorflow op \[[^\]]*: (\w+)\]", text)))
    names = {layer.name: type(layer).__name__ for layer in _layers(model)}
    # Converter messages locate ops by TensorFlow name scopes such as
    # "lstm_1/lstm_1_1/TensorArrayV2_1": map a scope back to a layer name.
    candidates = (
        name
        for path in re.findall(r"[\w.]+(?:/[\w.]+)+", text)
        for part in path.split("/")
        for name in (part, re.sub(r"_\d+$", "", part))
        if name in names
    )
    layer = next(candidates, None)
    where = f" in layer {layer!r} ({names[layer]})" if layer else ""
    what = f" (unsupported op {', '.join(ops)})" if ops else ""
    first_line = text.strip().splitlines()[0][:300] if text.strip() else ""
    return ArtifactError(
        f"Cannot export to {format}{where}{what}: {type(error).__name__}: "
        f"{first_line}. {_working_formats(format, model_name)}"
    )


def _vocabulary_texts(tokenizer, maxlen):
    words = tokenizer.vocabulary
    rng = np.random.default_rng(0)
    lengths = np.linspace(1, maxlen + 5, _VOCABULARY_TEXTS).astype(int)
    return [" ".join(rng.choice(words, size=n)) for n in lengths]


def self_check(export_dir, model, tokenizer, texts, quantize=None):
    """Compares the export in `export_dir` with the Keras `model`.

    Returns a JSON-ready summary (texts, max probability difference,
    tolerance, vocabulary words the plain-Python standardization does not
    reproduce); raises `ArtifactError` when the export disagrees.
    """
    vocabulary, runtime, _ = portable_example.load(export_dir)
    ids = vocabulary.padded(texts)
    expected_ids = tokenizer.texts_to_padded(texts, vocabulary.maxlen)
    if not np.array_equal(ids, expected_ids):
        row = int(np.flatnonzero((ids != expected_ids).any(axis=1))[0])
        raise ArtifactError(
            f"{EXAMPLE_FILE} tokenizes {texts[row]!r} differently from the "
            f"Tokenizer ({ids[row].tolist()} vs "
            f"{expected_ids[row].tolist()}); this export would mislead."
        )
    expected = np.asarray(model.predict_on_batch(ids), dtype=np.float64)
    actual = np.asarray(runtime(ids), dtype=np.float64)
    tolerance = TOLERANCES[quantize]
    if actual.shape != expected.shape or not np.isfinite(actual).all():
        raise ArtifactError(
            f"The export gives non-finite or misshaped probabilities "
            f"(shape {actual.shape}, expected {expected.shape}); the "
            "conversion is broken for this model."
        )
    difference = float(np.abs(actual - expected).max())
    top_two = np.sort(expected, axis=1)[:, -2:]
    clear = (top_two[:, 1] - top_two[:, 0]) > 2 * tolerance
    flipped = clear & (actual.argmax(axis=1) != expected.argmax(axis=1))
    if difference > tolerance or flipped.any():
        raise ArtifactError(
            f"The export disagrees with the Keras model: max probability "
            f"difference {difference:.2e} (tolerance {tolerance:.0e}), "
            f"{int(flipped.sum())} predicted class(es) changed."
        )
    words = tokenizer.vocabulary
    mismatched = [
        word for word in words if portable_example.standardize(
            word, tokenizer.lower, tokenizer.mask_digits,
            tokenizer.split_symbols,
        ) != [word]
    ]
    return {
        "texts": len(texts),
        "max_probability_difference": difference,
        "tolerance": tolerance,
        "predicted_class_changes_on_near_ties": int(
            (actual.argmax(axis=1) != expected.argmax(axis=1)).sum()
        ),
        "vocabulary_words_tokenized_differently": mismatched[:20],
    }


def read_metadata(export_dir):
    """The metadata.json of a portable export (`ArtifactError` if absent)."""
    return read_json(Path(export_dir) / METADATA_FILE, "export metadata")
