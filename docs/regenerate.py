"""Rewrites the generated parts of the docs: ``python docs/regenerate.py``
(the config-field table in docs/training.md, from `kerasseq.config`)."""

from pathlib import Path

from kerasseq.config import config_table

DOC = Path(__file__).resolve().parent / "training.md"
START, END = "<!-- config table -->\n", "<!-- end config table -->\n"


def main():
    text = DOC.read_text(encoding="utf-8")
    if END in text:
        text = text[:text.index(START)] + START + text[text.index(END):]
    else:
        text = text.replace(START, START + END)
    head, tail = text.split(START)
    DOC.write_text(head + START + "\n" + config_table() + "\n" + tail,
                   encoding="utf-8")


if __name__ == "__main__":
    main()
