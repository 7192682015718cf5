"""Train the plate reader's models from scratch and export them with their model card.

    .trainenv/bin/python -m roadcam.tools.plates.train_reader          # about 25 min a model on one core
    .trainenv/bin/python -m roadcam.tools.plates.train_reader --card-only

The reader uses two models of one recipe trained from two seeds (``--seeds``, default 4 and 5;
the second takes part in the second look at unsure crops, see
:mod:`roadcam.plugins.plate_capture.reader`). Each seed gives ``plate_reader_seed<N>.tflite`` and a
training record ``plate_reader_seed<N>.train.json`` beside it; then the pair is measured and
``plate_reader.md`` written from the records. ``--card-only`` measures the models already there
and rewrites the card, so a change to the benchmark does not cost the hour of training.

Needs the [train] extra (TensorFlow, Pillow). Training data, all drawn from one seed:

- synthetic plates from :mod:`roadcam.tools.plates.synth` (Taiwanese formats, generic Latin,
  Romanian EU plates, the simulator's own drawing);
- the real plates of ``../shared/data`` whose text :func:`roadcam.tools.plates.datasets.is_held_out`
  keeps in training: US photos cut by their labelled box with random margins, Brazilian crops;
- the Romanian plates of the ro-plates training split (``--real-root``, extracted by
  :mod:`roadcam.tools.data.real_sets`) whose text was read by eye
  (:func:`roadcam.tools.plates.datasets.load_ro_training`), cut like the US photos;
  each real plate is used several times, jittered and degraded like the synthetic ones.

Two-row plates are trained as the reader reads them: their rows side by side
(:func:`roadcam.plugins.plate_capture.reader.side_by_side`). The network is small and fully
convolutional: five 3x3 conv blocks shrink a 64x128 grey crop to a 2x32 feature map; a residual
block of 1x7 convolutions lets each column see its neighbours along the row (a glyph is told
from its look-alike by the characters around it); the map's two rows are then read one after
the other as a 64-step sequence, each step a softmax over the CTC blank and
:data:`roadcam.plugins.plate_capture.reader.ALPHABET`. TensorFlow
runs on one thread (the machine is shared). After training the model is exported in float16, loaded
back through the runtime adapter, measured on the held-out plates by :mod:`roadcam.tools.bench_plates`,
and the model card written beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from roadcam.plugins.plate_capture.reader import ALPHABET, reader_input
from roadcam.tools.plates.datasets import PlateSample, crop_box, load_br_crops, load_plates_us, load_ro_training
from roadcam.tools.plates.synth import PlateSynthesizer, degrade

MODELS_DIR = Path(__file__).resolve().parents[2] / "plugins" / "plate_capture" / "models"
#: Model input, (height, width) pixels.
INPUT_SIZE_PX = (64, 128)
#: Longest plate text the training labels hold.
MAX_TEXT_CHARS = 10
#: Times each real plate is repeated (jittered) per pass over the data, by data set.
REAL_COPIES = {"plates-us": 30, "plates-br-crops": 4, "ro-plates": 8}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[4, 5], help="one model per seed")
    parser.add_argument("--steps", type=int, default=4800, help="training steps (batches)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--synthetic", type=int, default=24000, help="synthetic crops drawn")
    parser.add_argument("--real-root", type=Path, default=Path("/work/data"),
                        help="where real_sets.py extracted the real data (its training split is read)")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR, help="where the models and their card go")
    parser.add_argument("--log", type=Path, default=Path("/tmp/roadcam-train-reader.log"))
    parser.add_argument("--card-only", action="store_true", help="measure the models in --out-dir, rewrite the card")
    args = parser.parse_args(argv)
    log = _Log(args.log)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = [args.out_dir / f"plate_reader_seed{seed}.tflite" for seed in args.seeds]
    if not args.card_only:
        for seed, path in zip(args.seeds, paths):
            train_one(seed, path, args, log)

    from roadcam.tools.plates.reader_card import write_reader_card

    notes = [_training_note(json.loads(path.with_suffix(".train.json").read_text())) for path in paths]
    card = write_reader_card(paths, training_notes=notes)
    log(f"model card {card}")


def train_one(seed: int, out: Path, args, log) -> None:
    """Train one reader model from ``seed``, export it to ``out`` and its training record beside it."""
    tf = _tensorflow(seed)
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    images, labels = training_set(args.synthetic, rng, log, args.real_root)
    log(f"training set: {len(images)} crops in {time.monotonic() - started:.0f} s")
    model = build_model(tf)
    log(f"model: {model.count_params()} parameters")
    train(tf, model, images, labels, args.steps, args.batch, rng, log)
    model.save_weights(args.log.with_name(f"{args.log.stem}-seed{seed}.weights.h5"))
    out.write_bytes(export_tflite(tf, model, images[:8]))
    elapsed_s = time.monotonic() - started
    log(f"exported {out} ({out.stat().st_size / 1e6:.2f} MB) after {elapsed_s:.0f} s")
    record = {"seed": seed, "steps": args.steps, "batch": args.batch, "synthetic": args.synthetic,
              "crops": len(images), "real_copies": REAL_COPIES, "train_seconds": round(elapsed_s)}
    out.with_suffix(".train.json").write_text(json.dumps(record, indent=2) + "\n")


def training_set(synthetic_count: int, rng: np.random.Generator, log,
                 real_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reader inputs (float16) and padded label arrays for synthetic and non-held-out real plates."""
    synthesizer = PlateSynthesizer(int(rng.integers(2**31)))
    crops, texts, two_rows = [], [], []
    for index in range(synthetic_count):
        sample = synthesizer.sample()
        crops.append(sample.crop_bgr)
        texts.append(sample.text)
        two_rows.append(sample.two_rows)
        if index % 5000 == 4999:
            log(f"synthetic {index + 1}/{synthetic_count}")
    for samples in (load_plates_us(), load_br_crops(), load_ro_training(real_root)):
        trained = [sample for sample in samples if not sample.held_out]
        copies = REAL_COPIES[trained[0].dataset]
        for sample in trained:
            crops += jittered_crops(sample, copies, rng)
            texts += [sample.text] * copies
            two_rows += [False] * copies    # every plate of these sets is one row
        log(f"{trained[0].dataset}: {len(trained)} plates x {copies}")
    size_px = (INPUT_SIZE_PX[1], INPUT_SIZE_PX[0])
    images = np.stack([reader_input(crop, size_px, two_rows=rows) for crop, rows in zip(crops, two_rows)])
    return images.astype(np.float16), encode_labels(texts)


def jittered_crops(sample: PlateSample, copies: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``copies`` crops of a real plate: random uneven margins (photos) or trims (crops), a
    slight rotation, and half of them degraded like the synthetic ones."""
    image = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
    out = []
    for _ in range(copies):
        if sample.box is not None:
            margin = (rng.uniform(-0.02, 0.2), rng.uniform(-0.03, 0.35),
                      rng.uniform(-0.02, 0.2), rng.uniform(-0.03, 0.35))
            crop = crop_box(image, sample.box, margin)
        else:
            height_px, width_px = image.shape[:2]
            x1, x2 = int(rng.uniform(0, 0.05) * width_px), width_px - int(rng.uniform(0, 0.05) * width_px)
            y1, y2 = int(rng.uniform(0, 0.08) * height_px), height_px - int(rng.uniform(0, 0.08) * height_px)
            crop = image[y1:y2, x1:x2]
        height_px, width_px = crop.shape[:2]
        turn = cv2.getRotationMatrix2D((width_px / 2, height_px / 2), rng.uniform(-4, 4), 1.0)
        crop = cv2.warpAffine(crop, turn, (width_px, height_px), borderMode=cv2.BORDER_REPLICATE)
        out.append(degrade(crop, rng) if rng.random() < 0.5 else crop)
    return out


def encode_labels(texts: list[str]) -> np.ndarray:
    """Texts as class numbers (``ALPHABET`` index + 1), padded with 0, plus each length in the last column."""
    labels = np.zeros((len(texts), MAX_TEXT_CHARS + 1), np.int32)
    for row, text in enumerate(texts):
        labels[row, :len(text)] = [ALPHABET.index(char) + 1 for char in text]
        labels[row, -1] = len(text)
    return labels


def build_model(tf):
    """The reader network (see the module docstring)."""
    layers = tf.keras.layers

    def block(x, filters, *, strides=1, separable=False, kernel=3):
        convolution = layers.SeparableConv2D if separable else layers.Conv2D
        x = convolution(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization()(x))

    inputs = tf.keras.Input((*INPUT_SIZE_PX, 1), name="crop")
    x = block(inputs, 16, strides=2)                    # 32 x 64
    x = block(x, 32, strides=2)                         # 16 x 32
    x = block(x, 64)
    x = layers.MaxPooling2D((2, 1))(x)                  # 8 x 32
    x = block(x, 96)
    x = layers.MaxPooling2D((2, 1))(x)                  # 4 x 32
    x = block(x, 128, separable=True)
    x = layers.MaxPooling2D((2, 1))(x)                  # 2 x 32
    x = block(x, 160, separable=True, kernel=(2, 5))
    x = layers.Add()([x, block(x, 160, separable=True, kernel=(1, 7))])   # context along each row
    x = layers.Reshape((-1, 160))(x)                    # 64 steps: top row, then bottom row
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(len(ALPHABET) + 1, activation="softmax", name="probabilities")(x)
    return tf.keras.Model(inputs, outputs)


def train(tf, model, images: np.ndarray, labels: np.ndarray, steps: int, batch: int,
          rng: np.random.Generator, log) -> None:
    """Adam with a cosine-decayed learning rate on the CTC loss, over shuffled passes of the data."""
    schedule = tf.keras.optimizers.schedules.CosineDecay(2e-3, steps, alpha=0.02, warmup_target=None)
    optimizer = tf.keras.optimizers.Adam(schedule)
    sequence_steps = int(model.output_shape[1])

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            probabilities = model(x, training=True)
            loss = tf.reduce_mean(tf.nn.ctc_loss(
                labels=y[:, :-1], logits=tf.math.log(probabilities + 1e-8), label_length=y[:, -1],
                logit_length=tf.fill([tf.shape(x)[0]], sequence_steps), logits_time_major=False, blank_index=0))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    order = rng.permutation(len(images))
    cursor, losses, started = 0, [], time.monotonic()
    for number in range(1, steps + 1):
        if cursor + batch > len(order):
            order, cursor = rng.permutation(len(images)), 0
        chosen = order[cursor:cursor + batch]
        cursor += batch
        losses.append(float(step(images[chosen].astype(np.float32), labels[chosen])))
        if number % 200 == 0 or number == steps:
            log(f"step {number}/{steps} loss {np.mean(losses):.3f} ({time.monotonic() - started:.0f} s)")
            losses = []


def export_tflite(tf, model, check_inputs: np.ndarray) -> bytes:
    """The trained model as a float16 TFLite flatbuffer, checked to give the Keras model's
    probabilities on ``check_inputs`` (a conversion that lost the weights fails here)."""
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    flatbuffer = converter.convert()
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    for crop in check_inputs.astype(np.float32):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], crop[None])
        interpreter.invoke()
        got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        wanted = model(crop[None], training=False).numpy()
        if np.abs(got - wanted).max() > 0.02:
            raise RuntimeError(f"the exported model disagrees with the trained one by {np.abs(got - wanted).max():.3f}")
    return flatbuffer


def _tensorflow(seed: int):
    """TensorFlow, seeded, deterministic, on one thread."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return tf


def _training_note(record: dict) -> str:
    """How one model was made, in the card's words, from its training record."""
    copies = record["real_copies"]
    romanian = (f", RO training split x{copies['ro-plates']}" if "ro-plates" in copies
                else "; trained before the EU synthetic plates and the RO training texts were added")
    return (f"seed {record['seed']}: {record['crops']} training crops ({record['synthetic']} synthetic, the rest "
            f"jittered copies of non-held-out real plates: US x{copies['plates-us']}, "
            f"BR x{copies['plates-br-crops']}{romanian}), "
            f"{record['steps']} steps of {record['batch']}, Adam 2e-3 cosine decay, CTC loss, one CPU thread, "
            f"{record['train_seconds'] / 60:.0f} min.")


class _Log:
    """Progress lines to stdout and the log file, each stamped with the time."""

    def __init__(self, path: Path):
        self.path = path
        path.write_text("")

    def __call__(self, line: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {line}"
        print(line, flush=True)
        with open(self.path, "a") as handle:
            handle.write(line + "\n")


if __name__ == "__main__":
    main()
