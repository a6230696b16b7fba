"""Export a trained classifier as a SavedModel that takes raw strings.

Layout of an export directory ``PATH`` (the SavedModel sits at the root, so
``saved_model_cli show --dir PATH --all``, ``tf.saved_model.load(PATH)`` and
TF Serving, with ``PATH`` mounted as a numbered version directory, all work
on it directly)::

    PATH/saved_model.pb, variables/, assets/, fingerprint.pb
                          # SavedModel, signature "serving_default":
                          #   text: string [batch] ->
                          #   probabilities: float32 [batch, classes],
                          #   label: string [batch]; multi-label
                          #   exports: the predicted set joined by "|"
                          #   and labels: bool [batch, classes]
    PATH/model.keras      # the same string-in Keras model
    PATH/kerasseq.json    # class names, maxlen, versions, metrics, signature
    PATH/tokenizer.json   # the tokenizer, for retraining or inspection

Vocabulary, standardization, padding and class names live inside the
graph: serving needs TensorFlow only, not kerasseq.
TensorFlow backend only (the vectorizer is TensorFlow at the edge).
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from kerasseq.errors import ArtifactError, ConfigError
from kerasseq.files import write_atomically, write_json
from kerasseq.text_model import TextModel

SIGNATURE_NAME = "serving_default"
INPUT_NAME = "text"
KERAS_FILE = "model.keras"
METADATA_FILE = "kerasseq.json"
TOKENIZER_FILE = "tokenizer.json"
FORMAT_NAME = "kerasseq-export"
FORMAT_VERSION = 1
CHECK_ATOL = 1e-5
PREDICT_BATCH_SIZE = 256

_CHECK_TEXTS = (
    "",
    "a great film",
    "A GREAT film!!! ... isn't it?",
    "  leading and trailing spaces  ",
    "ünïcödé wörds, émojis 🎬 and 数字 123",
)

SIGNATURE_DESCRIPTION = {
    "name": SIGNATURE_NAME,
    "inputs": {INPUT_NAME: {"dtype": "string", "shape": [None]}},
    "outputs": {
        "probabilities": {"dtype": "float32", "shape": [None, "num_classes"]},
        "label": {"dtype": "string", "shape": [None]},
    },
}
MULTILABEL_SIGNATURE_DESCRIPTION = {
    "name": SIGNATURE_NAME,
    "inputs": {INPUT_NAME: {"dtype": "string", "shape": [None]}},
    "outputs": {
        "probabilities": {"dtype": "float32", "shape": [None, "num_classes"]},
        "labels": {"dtype": "bool", "shape": [None, "num_classes"]},
        "label": {"dtype": "string", "shape": [None],
                  "meaning": "the predicted labels joined by '|'"},
    },
}


def export(
    model,
    tokenizer,
    class_names,
    path,
    *,
    maxlen=None,
    overwrite=False,
    metadata=None,
    check=True,
    check_texts=None,
    thresholds=None,
):
    """Write a serving export of `model` + `tokenizer` to directory `path`.

    Args:
        model: Keras model on int ids ``[B, T]`` with a softmax head
            ``[B, C]``.
        tokenizer: fitted `kerasseq.text.Tokenizer`.
        class_names: the ``C`` label strings, in label-id order.
        path: target directory; written atomically (temp dir + rename).
        maxlen: sequence length baked into the graph; defaults to
            ``tokenizer.maxlen``.
        overwrite: replace an existing `path`.
        metadata: JSON-serializable dict; keys ``model_name``,
            ``model_config`` and ``metrics`` are promoted in
            ``kerasseq.json``, the rest is kept under ``"extra"``.
        check: reload the SavedModel (``tf.saved_model.load`` and
            ``keras.layers.TFSMLayer``) and the ``.keras`` file and compare
            them with `model` on sample texts.
        check_texts: extra texts for the check.
        thresholds: for a multi-label model (sigmoid head), its decision
            thresholds, one per class: the signature then also returns
            the predicted label set.

    Returns:
        The export directory as a `pathlib.Path`.

    Raises:
        ArtifactError: `path` exists without `overwrite`, or the reloaded
            export disagrees with `model` (then nothing is left at `path`).
        ConfigError: bad `class_names`, `maxlen` or `metadata`.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ConfigError(
            "Export needs the TensorFlow backend (the SavedModel holds "
            f"TensorFlow string ops); KERAS_BACKEND is "
            f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow."
        )
    path = Path(path)
    _refuse_existing(path, overwrite)
    class_names = _check_class_names(model, class_names)
    maxlen = maxlen if maxlen is not None else tokenizer.maxlen
    if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
        raise ConfigError(
            f"Expected maxlen to be a positive int. Received {maxlen!r}. "
            "Pass maxlen=... or fit the tokenizer with a maxlen."
        )
    metadata = dict(metadata or {})
    _check_json(metadata)
    if thresholds is not None:
        thresholds = [float(t) for t in np.ravel(thresholds)]
        if len(thresholds) != len(class_names):
            raise ConfigError(
                f"Expected one threshold per class ({len(class_names)}). "
                f"Received {len(thresholds)}."
            )
        metadata["thresholds"] = dict(
            zip(class_names, thresholds, strict=True))

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        vectorizer = tokenizer.vectorizer(maxlen)
        string_model = build_string_model(model, vectorizer)
        _write_saved_model(string_model, class_names, tmp, thresholds)
        _write_keras_model(string_model, tmp)
        _write_json_files(tmp, tokenizer, class_names, maxlen, model, metadata)
        if check:
            texts = _sample_texts(vectorizer, maxlen, check_texts)
            _self_check(tmp, model, tokenizer, class_names, maxlen, texts,
                        thresholds)
        _move_into_place(tmp, path, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def build_string_model(model, vectorizer):
    """Return a Keras model: string ``[B]`` -> vectorizer -> `model`."""
    import keras

    text = keras.Input(shape=(), dtype="string", name=INPUT_NAME)
    probabilities = model(vectorizer(text))
    return TextModel(text, probabilities, name=f"{model.name}_text")


def load_export(path):
    """Load the ``serving_default`` signature of the export at `path`.

    Raises:
        ArtifactError: `path` is missing, is not a kerasseq export, or its
            SavedModel cannot be loaded.
    """
    import tensorflow as tf

    path = Path(path)
    read_metadata(path)
    if not (path / "saved_model.pb").is_file():
        raise ArtifactError(
            f"{path} has no saved_model.pb: not a complete export. "
            "Export the model again with kerasseq.export(...)."
        )
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as err:  # TF raises many types for a bad SavedModel
        raise ArtifactError(
            f"Cannot load the SavedModel in {path}: it is corrupted "
            f"({type(err).__name__}: {str(err).strip()[:300]}). "
            "Export the model again with kerasseq.export(...)."
        ) from err
    if SIGNATURE_NAME not in loaded.signatures:
        raise ArtifactError(
            f"The SavedModel in {path} has no {SIGNATURE_NAME!r} signature "
            f"(found {sorted(loaded.signatures)}). "
            "Export the model again with kerasseq.export(...)."
        )
    signature = loaded.signatures[SIGNATURE_NAME]
    _check_signature(path, signature)
    return signature


def _check_signature(path, signature):
    """Raises an `ArtifactError` unless `signature` takes one string
    tensor and returns kerasseq's outputs."""
    import tensorflow as tf

    _, inputs = signature.structured_input_signature
    outputs = set(signature.structured_outputs)
    takes_text = len(inputs) == 1 and all(
        spec.dtype == tf.string for spec in inputs.values())
    if not takes_text or not {"probabilities", "label"} <= outputs:
        found = {name: spec.dtype.name for name, spec in inputs.items()}
        raise ArtifactError(
            f"The SavedModel in {path} is not a kerasseq export: its "
            f"{SIGNATURE_NAME!r} signature takes {found} and returns "
            f"{sorted(outputs)}, not one string input and 'probabilities' "
            "and 'label'. Export the model again with kerasseq.export(...)."
        )


def read_metadata(path):
    """Return the parsed ``kerasseq.json`` of the export at `path`."""
    path = Path(path)
    if not path.is_dir():
        raise ArtifactError(
            f"Export directory {path} does not exist. Check the path or "
            "export a model with kerasseq.export(...)."
        )
    meta_file = path / METADATA_FILE
    try:
        metadata = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ArtifactError(
            f"{meta_file} is missing: {path} is not a kerasseq export. "
            "Export the model with kerasseq.export(...)."
        ) from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(
            f"{meta_file} is not valid JSON ({err}). "
            "Export the model again with kerasseq.export(...)."
        ) from err
    if not isinstance(metadata, dict) or not isinstance(
        metadata.get("class_names"), list
    ):
        raise ArtifactError(
            f"{meta_file} has no 'class_names' list. "
            "Export the model again with kerasseq.export(...)."
        )
    return metadata


def predict(path, texts):
    """Classify `texts` with the export at `path`.

    Returns:
        One ``{"text", "label", "probabilities": {class: p}}`` per text;
        for a multi-label export ``"labels"`` (the predicted set, a list)
        instead of ``"label"``.
    """
    import tensorflow as tf

    metadata = read_metadata(path)
    class_names = metadata["class_names"]
    multi_label = metadata.get("multi_label", False)
    serve = load_export(path)
    texts = [str(text) for text in texts]
    results = []
    for start in range(0, len(texts), PREDICT_BATCH_SIZE):
        batch = texts[start : start + PREDICT_BATCH_SIZE]
        outputs = serve(tf.constant(batch, dtype=tf.string))
        probabilities = outputs["probabilities"].numpy()
        labels = outputs["label"].numpy()
        chosen = outputs["labels"].numpy() if multi_label else labels
        for text, label, row in zip(batch, chosen, probabilities, strict=True):
            if multi_label:
                prediction = {"labels": [
                    name for name, on in zip(class_names, label, strict=True)
                    if on
                ]}
            else:
                prediction = {"label": label.decode("utf-8")}
            results.append(
                {
                    "text": text,
                    **prediction,
                    "probabilities": {
                        name: float(p)
                        for name, p in zip(class_names, row, strict=True)
                    },
                }
            )
    return results


def _refuse_existing(path, overwrite):
    if os.path.lexists(path) and not overwrite:
        raise ArtifactError(
            f"Export path {path} already exists. Pass overwrite=True "
            "(--overwrite on the command line) to replace it."
        )
    if os.path.lexists(path) and not path.is_dir():
        raise ArtifactError(
            f"Export path {path} exists and is not a directory. "
            "Remove it or choose another path."
        )


def _check_class_names(model, class_names):
    names = list(class_names)
    num_classes = model.output_shape[-1]
    if not all(isinstance(name, str) for name in names) or len(
        set(names)
    ) != len(names):
        raise ConfigError(
            f"Expected class_names to be distinct strings. Received {names!r}."
        )
    if len(names) != num_classes:
        raise ConfigError(
            f"Expected {num_classes} class_names (the model has "
            f"{num_classes} outputs). Received {len(names)}: {names!r}."
        )
    return names


def _check_json(metadata):
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"metadata must be JSON-serializable ({err}). Pass plain "
            "dicts, lists, strings and finite numbers."
        ) from err


def _write_saved_model(string_model, class_names, directory, thresholds):
    import keras
    import tensorflow as tf

    names = tf.constant(class_names, dtype=tf.string)
    cutoffs = None if thresholds is None else tf.constant(
        thresholds, dtype=tf.float32)

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_NAME)]
    )
    def serve(text):
        probabilities = string_model(text, training=False)
        if cutoffs is None:
            label = tf.gather(names, tf.argmax(probabilities, axis=-1))
            return {"probabilities": probabilities, "label": label}
        chosen = probabilities >= cutoffs
        label_set = tf.ragged.boolean_mask(
            tf.broadcast_to(names, tf.shape(chosen)), chosen)
        return {
            "probabilities": probabilities,
            "labels": chosen,
            "label": tf.strings.reduce_join(label_set, axis=-1,
                                            separator="|"),
        }

    archive = keras.export.ExportArchive()
    archive.track(string_model)
    archive.add_endpoint(SIGNATURE_NAME, serve)
    archive.write_out(str(directory), verbose=False)


def _write_keras_model(string_model, directory):
    string_model.save(directory / KERAS_FILE)


def _write_json_files(directory, tokenizer, class_names, maxlen, model, meta):
    import keras
    import tensorflow as tf

    import kerasseq

    write_atomically(
        directory / TOKENIZER_FILE, lambda file: file.write(tokenizer.to_json())
    )
    reserved = ("model_name", "model_config", "metrics", "thresholds")
    description = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "class_names": class_names,
        "maxlen": maxlen,
        "vocab_size": tokenizer.vocab_size,
        "model": {
            "name": meta.get("model_name", model.name),
            "config": meta.get("model_config"),
        },
        "metrics": meta.get("metrics"),
        "versions": {
            "kerasseq": kerasseq.__version__,
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
        },
        "multi_label": "thresholds" in meta,
        "thresholds": meta.get("thresholds"),
        "signature": (MULTILABEL_SIGNATURE_DESCRIPTION
                      if "thresholds" in meta else SIGNATURE_DESCRIPTION),
        "files": {
            "saved_model": ".",
            "keras_model": KERAS_FILE,
            "tokenizer": TOKENIZER_FILE,
        },
        "extra": {k: v for k, v in meta.items() if k not in reserved},
    }
    write_json(directory / METADATA_FILE, description)


def _sample_texts(vectorizer, maxlen, check_texts):
    words = vectorizer.get_vocabulary()[2:52] or ["word"]
    long_text = " ".join(words * (3 * maxlen // len(words) + 3))
    return [
        *_CHECK_TEXTS,
        " ".join(words[:maxlen]),
        long_text,
        *(check_texts or ()),
    ]


def _self_check(directory, model, tokenizer, class_names, maxlen, texts,
                thresholds=None):
    import keras
    import tensorflow as tf

    ids = keras.utils.pad_sequences(
        tokenizer.texts_to_sequences(texts),
        maxlen=maxlen,
        padding="post",
        truncating="post",
    )
    expected = np.asarray(model.predict(ids, verbose=0))
    finite = np.isfinite(expected).all(axis=-1)
    if not finite.all():
        raise ArtifactError(
            "Export self-check failed: the model's probabilities are NaN or "
            f"infinite on text {texts[int(np.argmin(finite))][:80]!r}; "
            "nothing was written. Retrain the model (a lower learning rate, "
            "or without mixed precision)."
        )
    batch = tf.constant(texts, dtype=tf.string)
    loaded = tf.saved_model.load(str(directory))
    outputs = {
        "tf.saved_model.load": loaded.signatures[SIGNATURE_NAME](batch),
        "keras.layers.TFSMLayer": keras.layers.TFSMLayer(
            str(directory), call_endpoint=SIGNATURE_NAME
        )(batch),
        KERAS_FILE: {
            "probabilities": keras.models.load_model(directory / KERAS_FILE)(
                batch
            )
        },
    }
    for source, output in outputs.items():
        got = np.asarray(output["probabilities"])
        diff = np.max(np.abs(got - expected), axis=-1)
        # `not diff <= atol` also catches NaN, for which `diff > atol` fails.
        if got.shape != expected.shape or not np.all(diff <= CHECK_ATOL):
            worst = int(np.argmax(diff)) if got.shape == expected.shape else 0
            raise ArtifactError(
                f"Export self-check failed: {source} output differs from the "
                f"in-memory model by more than {CHECK_ATOL} on text "
                f"{texts[worst][:80]!r}. The vectorizer and "
                "tokenizer.texts_to_sequences disagree or the model does not "
                "survive saving; nothing was written."
            )
        if "label" in output:
            labels = [x.decode("utf-8") for x in np.asarray(output["label"])]
            if thresholds is None:
                expected_labels = [class_names[i] for i in got.argmax(-1)]
            else:
                expected_labels = [
                    "|".join(np.asarray(class_names)[
                        row >= np.float32(thresholds)])
                    for row in got
                ]
            if labels != expected_labels:
                raise ArtifactError(
                    f"Export self-check failed: {source} labels do not match "
                    "the class names of the highest probabilities; nothing "
                    "was written."
                )


def _move_into_place(tmp, path, overwrite):
    _refuse_existing(path, overwrite)
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
    old.rmdir()
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
