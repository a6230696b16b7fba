"""Every Python block of README.md runs, in order, in a fresh folder."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for index, block in enumerate(blocks):
        code = compile(block, f"README.md python block {index + 1}", "exec")
        exec(code, namespace)  # noqa: S102 - the README's own examples
    # What the blocks promise, checked independently of their printing.
    result, predictor = namespace["result"], namespace["predictor"]
    texts = namespace["texts"]
    ids = result.tokenizer.texts_to_padded(texts, result.config.maxlen)
    expected = result.model.predict(ids, verbose=0)
    probabilities = predictor.predict_proba(texts)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert (tmp_path / "runs" / "notebook" / "metrics.json").is_file()
    assert (tmp_path / "exports" / "notebook").is_dir()
    assert "Traceback" not in capsys.readouterr().err
