"""Run a TFLite model: the one place roadcam loads ``.tflite`` files.

The runtime is the first of these that imports: ``ai_edge_litert`` (the maintained successor of
tflite-runtime, a runtime dependency), ``tflite_runtime``, ``tensorflow.lite`` (on a training
machine). Callers hand real-valued arrays and get real-valued arrays back: a model with int8 or
uint8 inputs or outputs is quantised and dequantised here with the scales stored in the model, so
plugins never see quantisation.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path

import numpy as np

from roadcam.common.errors import InferenceRuntimeMissing, ModelInputMismatch, ModelInvalid, ModelNotFound

#: Modules providing a TFLite ``Interpreter``, in order of preference.
RUNTIME_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")


def load_model(path: str | Path, *, threads: int = 1) -> TFLiteModel:
    """Load the TFLite model at ``path`` to run on ``threads`` CPU threads."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFound(f"model file {path} does not exist: reinstall roadcam or fix the model path")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    interpreter_class = _interpreter_class()
    try:
        interpreter = interpreter_class(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ModelInvalid(f"{path} is not a valid TFLite model ({error}): replace it with the file "
                           "shipped with roadcam or retrain it") from error
    return TFLiteModel(interpreter, path)


class TFLiteModel:
    """A loaded model with one input tensor. ``run`` may be called from any thread (one call at a
    time: the interpreter is not re-entrant)."""

    def __init__(self, interpreter, path: Path):
        self._interpreter = interpreter
        self.path = path
        inputs = interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelInvalid(f"{path} has {len(inputs)} inputs; roadcam models take exactly one")
        self._input = inputs[0]
        self._outputs = interpreter.get_output_details()
        self._lock = threading.Lock()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The input's shape, batch first (the batch dimension may be changed per call)."""
        return tuple(int(size) for size in self._input["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        """The input tensor's element type inside the model (float32, int8 or uint8)."""
        return np.dtype(self._input["dtype"])

    def run(self, array: np.ndarray) -> list[np.ndarray]:
        """Run the model on ``array`` (real values, shaped like :attr:`input_shape`, any batch
        size) and return every output as float32 (or its own integer type when not quantised),
        in the model's output order."""
        array = np.asarray(array)
        expected = self.input_shape
        if array.ndim != len(expected) or array.shape[1:] != expected[1:]:
            raise ModelInputMismatch(f"{self.path.name} takes arrays shaped (batch, "
                                     f"{', '.join(map(str, expected[1:]))}), got {array.shape}")
        with self._lock:
            if array.shape[0] != expected[0]:
                self._interpreter.resize_tensor_input(self._input["index"], list(array.shape))
                self._interpreter.allocate_tensors()
                self._input = self._interpreter.get_input_details()[0]
                self._outputs = self._interpreter.get_output_details()
            self._interpreter.set_tensor(self._input["index"], _to_tensor(array, self._input))
            self._interpreter.invoke()
            return [_from_tensor(self._interpreter.get_tensor(detail["index"]), detail)
                    for detail in self._outputs]


def _interpreter_class():
    """The ``Interpreter`` class of the first installed runtime."""
    for name in RUNTIME_MODULES:
        try:
            return importlib.import_module(name).Interpreter
        except ImportError:
            continue
    raise InferenceRuntimeMissing("no TFLite runtime is installed: pip install ai-edge-litert "
                                  "(or reinstall roadcam, which depends on it)")


def _to_tensor(array: np.ndarray, detail: dict) -> np.ndarray:
    """``array`` in the tensor's type, quantised with the tensor's scale and zero point."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype.kind in "iu" and scale:
        limits = np.iinfo(dtype)
        quantised = np.round(array.astype(np.float32) / scale + zero_point)
        return np.clip(quantised, limits.min, limits.max).astype(dtype)
    return array.astype(dtype, copy=False)


def _from_tensor(tensor: np.ndarray, detail: dict) -> np.ndarray:
    """A tensor's values as real numbers (dequantised when the tensor is quantised)."""
    scale, zero_point = detail["quantization"]
    if tensor.dtype.kind in "iu" and scale:
        return (tensor.astype(np.float32) - zero_point) * np.float32(scale)
    return tensor
