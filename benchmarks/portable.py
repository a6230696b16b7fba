"""Portable exports: size and single-text latency next to the SavedModel,
and which registered model converts to which format.

    python benchmarks/portable.py [--model lstm] [--data D] [--repeats 200]
    python benchmarks/portable.py --table [MODEL ...]

The first form trains MODEL (default hyper-parameters) for one epoch on
D (default ``builtin:synthetic_sentiment``) with the string-in SavedModel
export, exports it to ONNX and TFLite (float32, ``dynamic``, ``float16``) and
prints a Markdown table: file size and median single-text latency
(text -> probabilities: the SavedModel's in-graph tokenization, the
portable files' ``predict_example.py`` tokenization plus the runtime),
with ratios to the SavedModel measured in the same run.

``--table`` builds every registered model with small hyper-parameters
(vocabulary 50 words, 2 classes, fixed weights), runs `export_portable`
for each format and prints which succeed.
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import kerasseq
from kerasseq import models, portable, portable_example
from kerasseq.files import write_json
from kerasseq.text import Tokenizer

TEXT = "a wonderful film with a moving story, though the ending drags"
SMALL = {
    "embedding_dim": 8, "units": 8, "hidden_units": 0, "buckets": 1024,
    "subword_buckets": 1024, "boundary_buckets": 1024, "num_heads": 2,
    "num_blocks": 1, "intermediate_dim": 16, "max_length": 64,
}
VARIANTS = [(f, q) for f in portable.FORMATS for q in (None, "dynamic",
                                                       "float16")]


def _median_ms(function, repeats):
    function()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _size(path):
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _saved_model_size(export_dir):
    # The SavedModel proper: the export folder also holds model.keras.
    names = ("saved_model.pb", "variables", "assets", "fingerprint.pb")
    return sum(
        _size(export_dir / n) for n in names if (export_dir / n).exists()
    )


def measure(model_name, data, repeats, folder):
    import tensorflow as tf

    result = kerasseq.train(
        {"model": model_name, "data": data, "epochs": 1,
         "out": str(folder / "run"), "export": True},
        verbose=0,
    )
    saved_model = result.run_dir / "saved_model"
    serve = tf.saved_model.load(str(saved_model)).signatures[
        "serving_default"
    ]
    text = tf.constant([TEXT])
    rows = [("SavedModel (strings in)", _saved_model_size(saved_model),
             _median_ms(lambda: serve(text=text), repeats), None)]
    for format, quantize in VARIANTS:
        out = portable.export_portable(
            result.run_dir, folder / f"{format}-{quantize}", format=format,
            quantize=quantize,
        )
        rows.append(_measure_export(out, repeats))
    size0, latency0 = rows[0][1], rows[0][2]
    print(f"Model `{model_name}` (default hyper-parameters) on {data} "
          f"(vocabulary "
          f"{result.tokenizer.vocab_size}, maxlen {result.config.maxlen}), "
          f"one text, median of {repeats} calls.\n")
    print("| export | size (KiB) | size ratio | latency (ms) | latency ratio "
          "| runtime only (ms) | max prob. diff. |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, size, latency, extra in rows:
        runtime_only, diff = extra or (None, None)
        print(
            f"| {name} | {size / 1024:.1f} | {size / size0:.2f} | "
            f"{latency:.2f} | {latency / latency0:.2f} | "
            f"{'' if runtime_only is None else f'{runtime_only:.2f}'} | "
            f"{'' if diff is None else f'{diff:.1e}'} |"
        )


def _measure_export(out, repeats):
    metadata = portable.read_metadata(out)
    vocabulary, runtime, _ = portable_example.load(out)
    ids = vocabulary.padded([TEXT])
    name = f"{metadata['model_format']} {metadata['quantize'] or 'float32'}"
    return (
        name,
        _size(out / metadata["model_file"]),
        _median_ms(lambda: runtime(vocabulary.padded([TEXT])), repeats),
        (
            _median_ms(lambda: runtime(ids), repeats),
            metadata["check"]["max_probability_difference"],
        ),
    )


def _small_run(folder, model_name):
    words = [f"w{i}" for i in range(48)]
    tokenizer = Tokenizer().fit_on_texts([" ".join(words[i:]) for i in
                                          range(48)])
    hparams = {k: v for k, v in SMALL.items()
               if k in models.default_hparams(model_name)}
    keras.utils.set_random_seed(0)
    model = models.build(model_name, 50, 2, **hparams)
    model(np.ones((1, tokenizer.maxlen), dtype="int32"))
    folder.mkdir()
    model.save(folder / "model.keras")
    (folder / "tokenizer.json").write_text(tokenizer.to_json(), "utf-8")
    write_json(folder / "config.json", {
        "config": {"model": model_name, "maxlen": tokenizer.maxlen},
        "class_names": ["a", "b"],
    })
    return folder


def table(folder, names):
    print("| model | onnx | tflite |\n|---|---|---|")
    for name in names:
        run = _small_run(folder / name, name)
        cells = []
        for format in portable.FORMATS:
            try:
                out = portable.export_portable(
                    run, folder / f"{name}-{format}", format=format
                )
                check = portable.read_metadata(out)["check"]
                cells.append(f"yes ({check['max_probability_difference']:.0e})")
            except kerasseq.errors.ArtifactError as error:
                cells.append(f"no: {str(error)[:160]}")
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--data", default="builtin:synthetic_sentiment")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--table", nargs="*", metavar="MODEL",
        help="conversion table for these models (default: all)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.table is not None:
            table(Path(folder), args.table or models.names())
        else:
            measure(args.model, args.data, args.repeats, Path(folder))


if __name__ == "__main__":
    main()
