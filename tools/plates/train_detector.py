"""Train the plate detector from scratch and export ``plugins/plate_capture/models/plate_detector.tflite``.

    .trainenv/bin/python -m roadcam.tools.plates.train_detector                     # about 62 min on one core
    .venv/bin/python -m roadcam.tools.plates.train_detector --measure-only          # re-measure, rewrite the card

A small fully convolutional network (MobileNet-style depthwise blocks down to stride 16, a
two-step decoder back to stride 4) predicts CenterNet targets on a grey square: a plate-centre
heat map (penalty-reduced focal loss) and, at each centre, the sub-cell offset and log size
(L1). It trains on 160 px crops of the 256 px squares of :mod:`roadcam.tools.plates.scenes` and is
exported for 256 px input (the network is fully convolutional). The same seed gives the same
data, order and initial weights; TensorFlow runs on one thread. At the end the exported model
is measured with :mod:`roadcam.tools.plates.eval_detector` and the model card written beside it.

TensorFlow lives in the training venv only (the [train] extra); roadcam never imports it.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np

from roadcam.plugins.plate_capture.detector import DEFAULT_MODEL, STRIDE_PX
from roadcam.tools.plates import scenes
from roadcam.tools.plates.datasets import load_plates_us
from roadcam.tools.plates.eval_detector import evaluate, write_model_card

#: Side of the exported model's input square, and of the crops it is trained on.
EXPORT_SIDE_PX = 256
TRAIN_SIDE_PX = 160
#: Simulator runs for training: the shipped scenarios with seeds of their own (evaluation uses
#: the scenarios' shipped seeds), each with a randomly varied camera pose.
SIM_RUNS = [("smoke", 101), ("smoke", 102), ("junction", 103), ("junction", 104),
            ("night", 105), ("night", 106), ("rain", 107), ("rain", 108)]
SIM_SECONDS = 30.0
SIM_EVERY_N_FRAMES = 5
PHOTO_SQUARES = 3000
SYNTHETIC_SQUARES = 5000
BACKGROUND_SQUARES = 1500
BATCH = 32
LEARNING_RATE = 2e-3

log = logging.getLogger("train_detector")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="where to write the .tflite model")
    parser.add_argument("--steps", type=int, default=6000, help=f"training steps of {BATCH} squares")
    parser.add_argument("--seed", type=int, default=20261122, help="seed of data, order and weights")
    parser.add_argument("--log", type=Path, default=Path("train_detector.log"), help="progress log file")
    parser.add_argument("--measure-only", action="store_true",
                        help="do not train: measure the model at --out and rewrite its card")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler(args.log)])
    if not args.measure_only:
        train_and_export(args.out, args.steps, args.seed)
    scores = evaluate(args.out)
    for score in scores:
        log.info("%s", score.line())
    write_model_card(args.out.with_suffix(".md"), scores, training_summary(args.steps, args.seed))


def train_and_export(out: Path, steps: int, seed: int) -> None:
    """The whole training run: data, network, training, TFLite export."""
    tf = _one_thread_tensorflow(seed)
    started = time.monotonic()
    images, boxes = build_training_set(np.random.default_rng(seed))
    log.info("training set: %d squares, %d plates (%.0f s)", len(images), sum(len(b) for b in boxes),
             time.monotonic() - started)
    model = build_model(tf, None)
    train(tf, model, images, boxes, steps, np.random.default_rng(seed + 1))
    export(tf, model, out)
    log.info("exported %s (%d bytes) after %.0f s", out, out.stat().st_size, time.monotonic() - started)


def _one_thread_tensorflow(seed: int):
    """TensorFlow on one CPU thread (the machine is shared), deterministic, quiet."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # the [train] extra only

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf


def build_training_set(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every training square (N, 256, 256) uint8 with its plate boxes, light varied."""
    sim, backgrounds = scenes.sim_squares(rng, SIM_RUNS, EXPORT_SIDE_PX, SIM_SECONDS, SIM_EVERY_N_FRAMES,
                                          tiles_per_frame=1.0)
    photos = [sample for sample in load_plates_us() if not sample.held_out]
    squares = sim + scenes.photo_squares(rng, photos, EXPORT_SIDE_PX, PHOTO_SQUARES)
    backgrounds += scenes.photo_backgrounds(photos)
    squares += scenes.synthetic_squares(rng, backgrounds, EXPORT_SIDE_PX, SYNTHETIC_SQUARES)
    squares += scenes.background_squares(rng, backgrounds, EXPORT_SIDE_PX, BACKGROUND_SQUARES)
    log.info("squares: %d simulator, %d photo, %d synthetic, %d plate-free", len(sim), PHOTO_SQUARES,
             SYNTHETIC_SQUARES, BACKGROUND_SQUARES)
    images = np.stack([scenes.photometric(rng, square.image) for square in squares])
    return images, [square.boxes for square in squares]


def build_model(tf, side_px: int | None):
    """The detector network for ``side_px`` squares (None: any size), output (cells, cells, 5):
    sigmoid centre score, x/y offset, log width/height (cells)."""
    layers = tf.keras.layers

    def separable(x, filters, stride=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
        x = layers.Conv2D(filters, 1, use_bias=False)(x)
        return layers.ReLU(6.0)(layers.BatchNormalization()(x))

    grey = tf.keras.Input((side_px, side_px, 1))
    x = layers.Rescaling(1 / 255.0)(grey)
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization()(x))
    stride4 = separable(separable(x, 32, 2), 32)
    stride8 = separable(separable(separable(stride4, 64, 2), 64), 64)
    x = separable(separable(separable(stride8, 96, 2), 96), 96)
    x = separable(layers.Concatenate()([layers.UpSampling2D(2)(x), stride8]), 64)
    x = separable(layers.Concatenate()([layers.UpSampling2D(2)(x), stride4]), 48)
    heat = layers.Conv2D(1, 1, activation="sigmoid", bias_initializer=tf.constant_initializer(-4.6))(x)
    shape = layers.Conv2D(4, 1)(x)
    return tf.keras.Model(grey, layers.Concatenate()([heat, shape]))


def encode_targets(boxes: np.ndarray, side_px: int) -> np.ndarray:
    """CenterNet targets (cells, cells, 6) of one square: Gaussian heat, offset x/y, log w/h,
    and a 1 where a plate's centre cell is."""
    cells = side_px // STRIDE_PX
    target = np.zeros((cells, cells, 6), np.float32)
    grid_y, grid_x = np.mgrid[0:cells, 0:cells].astype(np.float32)
    for x1, y1, x2, y2 in boxes / STRIDE_PX:
        centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
        col, row = int(centre_x), int(centre_y)
        if not (0 <= col < cells and 0 <= row < cells):
            continue
        width, height = max(x2 - x1, 0.5), max(y2 - y1, 0.25)
        sigma_x, sigma_y = max(width / 6, 0.6), max(height / 6, 0.6)
        bump = np.exp(-((grid_x - col) ** 2 / (2 * sigma_x ** 2) + (grid_y - row) ** 2 / (2 * sigma_y ** 2)))
        target[..., 0] = np.maximum(target[..., 0], bump)
        target[row, col, 1:] = (centre_x - col, centre_y - row, np.log(width), np.log(height), 1.0)
    return target


def training_batch(rng: np.random.Generator, images: np.ndarray, boxes: list[np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A batch of random 160 px crops, half mirrored, with their targets."""
    picks = rng.integers(len(images), size=BATCH)
    inputs = np.empty((BATCH, TRAIN_SIDE_PX, TRAIN_SIDE_PX, 1), np.float32)
    targets = []
    room = EXPORT_SIDE_PX - TRAIN_SIDE_PX
    for slot, index in enumerate(picks):
        left, top = (int(v) * STRIDE_PX for v in rng.integers(0, room // STRIDE_PX + 1, 2))
        crop = images[index, top:top + TRAIN_SIDE_PX, left:left + TRAIN_SIDE_PX]
        shifted = boxes[index] - np.array([left, top, left, top], np.float32)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
            shifted = np.stack([TRAIN_SIDE_PX - shifted[:, 2], shifted[:, 1],
                                TRAIN_SIDE_PX - shifted[:, 0], shifted[:, 3]], axis=1)
        inputs[slot, ..., 0] = crop
        targets.append(encode_targets(shifted, TRAIN_SIDE_PX))
    return inputs, np.stack(targets)


def train(tf, model, images: np.ndarray, boxes: list[np.ndarray], steps: int, rng: np.random.Generator) -> None:
    """Adam with cosine decay on the CenterNet loss, logging every 100 steps."""
    schedule = tf.keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
    optimiser = tf.keras.optimizers.Adam(schedule)

    @tf.function
    def step(inputs, targets):
        with tf.GradientTape() as tape:
            heat_loss, shape_loss = centernet_loss(tf, model(inputs, training=True), targets)
            loss = heat_loss + shape_loss
        gradients = tape.gradient(loss, model.trainable_variables)
        optimiser.apply_gradients(zip(gradients, model.trainable_variables))
        return heat_loss, shape_loss

    started = time.monotonic()
    totals = np.zeros(2)
    for number in range(1, steps + 1):
        totals += [float(v) for v in step(*training_batch(rng, images, boxes))]
        if number % 100 == 0:
            log.info("step %d/%d  heat %.3f  shape %.3f  (%.0f s)", number, steps, *(totals / 100),
                     time.monotonic() - started)
            totals[:] = 0


def centernet_loss(tf, output, targets):
    """Penalty-reduced focal loss on the heat map and L1 on offset and log size at plate
    centres, both per plate."""
    score = tf.clip_by_value(output[..., 0], 1e-4, 1 - 1e-4)
    heat, centre = targets[..., 0], targets[..., 5]
    plates = tf.maximum(tf.reduce_sum(centre), 1.0)
    positive = -tf.math.log(score) * (1 - score) ** 2 * centre
    negative = -tf.math.log(1 - score) * score ** 2 * (1 - heat) ** 4 * (1 - centre)
    heat_loss = tf.reduce_sum(positive + negative) / plates
    shape_loss = tf.reduce_sum(tf.abs(output[..., 1:5] - targets[..., 1:5]) * centre[..., None]) / plates
    return heat_loss, shape_loss


def export(tf, model, path: Path) -> None:
    """The trained weights in a 256 px input model, converted to float32 TFLite."""
    fixed = build_model(tf, EXPORT_SIDE_PX)
    fixed.set_weights(model.get_weights())
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(converter.convert())


def training_summary(steps: int, seed: int) -> dict[str, str]:
    """What the model card says about how the model was made."""
    return {
        "command": ".trainenv/bin/python -m roadcam.tools.plates.train_detector",
        "seed": str(seed),
        "squares": "grey 256 px squares: simulator vehicle regions and scene tiles "
                   f"({', '.join(f'{name} seed {seed_}' for name, seed_ in SIM_RUNS)}, {SIM_SECONDS:.0f} s each, "
                   f"every {SIM_EVERY_N_FRAMES}th frame, camera pose varied), {PHOTO_SQUARES} crops of the "
                   f"non-held-out plates-us photos, {SYNTHETIC_SQUARES} synthetic scenes, "
                   f"{BACKGROUND_SQUARES} plate-free background squares",
        "training": f"{steps} steps of {BATCH} random {TRAIN_SIDE_PX} px crops (half mirrored), Adam "
                    f"{LEARNING_RATE} with cosine decay, one TensorFlow thread (about 10 min per 1000 steps "
                    "on the shared 2-core development machine, plus 1.5 min to build the data)",
    }


if __name__ == "__main__":
    main()
