"""The two tiny TFLite models the runtime adapter's tests load (tests/data/), made with TensorFlow.

    /work/trainenv/bin/python -m roadcam.tools.plates.tiny_models

Both compute ``y = x @ WEIGHTS + BIAS`` on a (batch, 4) input, so a test knows every output:
``affine_float.tflite`` in float32, ``affine_int8.tflite`` fully int8-quantised (input and output
int8 with their scales), which makes the adapter quantise and dequantise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TESTS_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
WEIGHTS = np.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0], [-0.25, 0.25]], np.float32)
BIAS = np.array([0.5, -0.5], np.float32)
#: Inputs the int8 model is calibrated for lie in this range.
INPUT_RANGE = (-2.0, 2.0)


def main() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    function = tf.function(lambda x: tf.matmul(x, WEIGHTS) + BIAS).get_concrete_function(
        tf.TensorSpec((1, 4), tf.float32))
    TESTS_DATA.mkdir(parents=True, exist_ok=True)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    (TESTS_DATA / "affine_float.tflite").write_bytes(converter.convert())

    calibration = np.random.default_rng(0).uniform(*INPUT_RANGE, (200, 1, 4)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([sample] for sample in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    (TESTS_DATA / "affine_int8.tflite").write_bytes(converter.convert())
    for path in sorted(TESTS_DATA.glob("affine_*.tflite")):
        print(path, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
