"""How fast ``builtin:synthetic_sentiment`` loads, relative to a CSV file.

The synthetic corpus is generated on every load (the default 4,000
sentences), so tests and quickstarts that use it should find it about as
cheap as reading the same texts from disk. In one process this times
`kerasseq.load_dataset` on the builtin corpus and on a CSV file holding
exactly its texts, labels and splits (the reference), alternating the two
for ``--repeats`` rounds, and prints the median seconds of each and their
ratio. A ratio, not an absolute time, so a busy machine slows both alike.

Usage::

    python benchmarks/synthetic_speed.py                 # 7 rounds
    python benchmarks/synthetic_speed.py --max-ratio 3   # exit 1 above 3
"""

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from kerasseq.datasets import load_dataset

BUILTIN = "builtin:synthetic_sentiment"


def write_csv(data, path):
    """The corpus `data` as a ``text,label,split`` CSV file at `path`."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label", "split"])
        for split, texts, labels in (
            ("train", data.train_texts, data.train_labels),
            ("test", data.test_texts, data.test_labels),
        ):
            for text, label in zip(texts, labels, strict=True):
                writer.writerow([text, data.class_names[label], split])


def seconds(source):
    start = time.perf_counter()
    load_dataset(source)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--max-ratio", type=float,
                        help="exit 1 when builtin / CSV exceeds this")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "synthetic.csv"
        write_csv(load_dataset(BUILTIN), reference)
        builtin, from_csv = [], []
        for _ in range(args.repeats):
            builtin.append(seconds(BUILTIN))
            from_csv.append(seconds(str(reference)))
    result = {"builtin_s": statistics.median(builtin),
              "csv_s": statistics.median(from_csv)}
    result["ratio"] = result["builtin_s"] / result["csv_s"]
    print(f"{BUILTIN}: {result['builtin_s']:.3f} s, same texts from CSV: "
          f"{result['csv_s']:.3f} s, ratio {result['ratio']:.2f} "
          f"(median of {args.repeats})")
    if args.max_ratio is not None and result["ratio"] > args.max_ratio:
        print(f"ratio above --max-ratio {args.max_ratio}", file=sys.stderr)
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
