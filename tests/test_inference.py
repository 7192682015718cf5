"""The TFLite runtime adapter on two tiny real models (tests/data, made by tools/plates/tiny_models.py):
y = x @ WEIGHTS + BIAS in float32 and fully int8-quantised."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from roadcam.appliance.inference import RUNTIME_MODULES, load_model
from roadcam.common.errors import InferenceRuntimeMissing, ModelInputMismatch, ModelInvalid, ModelNotFound

DATA = Path(__file__).with_name("data")
WEIGHTS = np.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0], [-0.25, 0.25]], np.float32)
BIAS = np.array([0.5, -0.5], np.float32)
INPUTS = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, 0.0, 0.0, 0.0], [-2.0, 1.0, 1.0, 2.0]], np.float32)


def test_float_model_computes_its_function_on_any_batch_size():
    model = load_model(DATA / "affine_float.tflite")
    assert model.input_shape == (1, 4)
    assert model.input_dtype == np.float32
    np.testing.assert_allclose(model.run(INPUTS[:1])[0], INPUTS[:1] @ WEIGHTS + BIAS, rtol=1e-6)
    np.testing.assert_allclose(model.run(INPUTS)[0], INPUTS @ WEIGHTS + BIAS, rtol=1e-6)


def test_int8_model_takes_and_returns_real_values():
    model = load_model(DATA / "affine_int8.tflite", threads=2)
    assert model.input_dtype == np.int8
    (output,) = model.run(INPUTS)
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, INPUTS @ WEIGHTS + BIAS, atol=0.1)


def test_an_array_of_the_wrong_shape_is_refused_with_the_shape_wanted():
    model = load_model(DATA / "affine_float.tflite")
    with pytest.raises(ModelInputMismatch, match=r"\(batch, 4\)"):
        model.run(np.zeros((1, 5), np.float32))
    with pytest.raises(ModelInputMismatch):
        model.run(np.zeros(4, np.float32))


def test_a_missing_model_file_names_the_path(tmp_path):
    with pytest.raises(ModelNotFound, match="nothing.tflite"):
        load_model(tmp_path / "nothing.tflite")


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 10,
                                     (DATA / "affine_float.tflite").read_bytes()[:200]])
def test_a_corrupt_or_truncated_model_file_is_invalid(tmp_path, content):
    path = tmp_path / "broken.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelInvalid, match="broken.tflite"):
        load_model(path)


def test_threads_below_one_are_refused():
    with pytest.raises(ValueError, match="threads"):
        load_model(DATA / "affine_float.tflite", threads=0)


def test_no_runtime_installed_says_what_to_install(monkeypatch):
    for name in RUNTIME_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    with pytest.raises(InferenceRuntimeMissing, match="pip install ai-edge-litert"):
        load_model(DATA / "affine_float.tflite")


def test_falls_back_to_the_next_runtime_in_order(monkeypatch):
    from ai_edge_litert.interpreter import Interpreter

    used = []

    class RecordingInterpreter(Interpreter):
        def __init__(self, **kwargs):
            used.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter",
                        types.SimpleNamespace(Interpreter=RecordingInterpreter))
    model = load_model(DATA / "affine_float.tflite", threads=3)
    np.testing.assert_allclose(model.run(INPUTS[:1])[0], INPUTS[:1] @ WEIGHTS + BIAS, rtol=1e-6)
    assert used and used[0]["num_threads"] == 3
