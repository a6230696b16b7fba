"""What ``import kerasseq`` registers with Keras and what it imports."""

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import textwrap

import keras
import numpy as np

import kerasseq
from kerasseq import models

# After `import kerasseq` alone, on the JAX backend: TensorFlow is not
# imported, every kerasseq Keras object is registered, and a saved
# kerasseq model loads with no custom_objects.
_CHILD = textwrap.dedent(
    """
    import json
    import sys

    import keras
    import kerasseq

    assert "tensorflow" not in sys.modules, "import kerasseq imported TF"
    registered = sorted(name for name in keras.saving.get_custom_objects()
                        if name.startswith("kerasseq>"))
    model = keras.models.load_model(sys.argv[1])
    ids = keras.ops.convert_to_tensor(json.loads(sys.argv[2]), "int32")
    probabilities = keras.ops.convert_to_numpy(model(ids, training=False))
    print(json.dumps([registered, probabilities.tolist()]))
    """
)


def _every_kerasseq_keras_object():
    for module in pkgutil.walk_packages(kerasseq.__path__, "kerasseq."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    return sorted(name for name in keras.saving.get_custom_objects()
                  if name.startswith("kerasseq>"))


def test_import_kerasseq_registers_everything_without_tensorflow(tmp_path):
    expected_names = _every_kerasseq_keras_object()
    keras.utils.set_random_seed(0)
    # Masked pooling and n-gram hashing: layers outside kerasseq.layers.
    model = models.build("ngram_bag", 40, 3, embedding_dim=4, buckets=64)
    ids = [[5, 9, 2, 0, 0], [7, 7, 7, 3, 1]]
    expected = keras.ops.convert_to_numpy(model(np.array(ids)))
    path = tmp_path / "ngram_bag.keras"
    model.save(path)
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), json.dumps(ids)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    names, probabilities = json.loads(result.stdout.splitlines()[-1])
    assert names == expected_names
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_dir_lists_the_public_api_and_every_name_resolves():
    import kerasseq

    listed = dir(kerasseq)
    for name in kerasseq.__all__:
        assert name in listed
        assert getattr(kerasseq, name) is not None
    for name in ("train", "load_dataset", "load", "Predictor", "lr_find",
                 "compare", "tune", "TrainConfig", "export"):
        assert name in kerasseq.__all__
