"""The plate reader's model card, ``plate_reader.md`` beside its models: how they were made, their
input, and their scores on the held-out plates (:mod:`roadcam.tools.bench_plates`).

Written by ``python -m roadcam.tools.plates.train_reader`` after training (or with ``--card-only``).
The real-scene section (:data:`REAL_SECTION`, figures printed by ``python -m roadcam.tools.eval_real``
and copied in by hand after a run there) is kept from the card being replaced, first.
Its own module so that the trainer and the benchmark do not import each other: the trainer
imports this module, this module imports the benchmark, the benchmark imports neither.
"""

from __future__ import annotations

from pathlib import Path

from roadcam.plugins.plate_capture.reader import TRIMS, PlateReader
from roadcam.tools import bench_plates

#: The heading of the card's section on real scenes, kept when the card is written again.
REAL_SECTION = "## Real scenes first"


def kept_real_section(card: Path) -> str:
    """The real-scene section of the card at ``card`` (up to the next section), or ""."""
    text = card.read_text() if card.is_file() else ""
    start = text.find(REAL_SECTION)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(REAL_SECTION))
    return text[start:] if end < 0 else text[start:end + 1]


def write_reader_card(model_paths: list[Path], training_notes: list[str]) -> Path:
    """Write ``plate_reader.md`` beside the models: how they were made, their input, and the
    scores of the models together (as ``roadcam plate read`` reads) and of each alone."""
    together = bench_plates.run(model_paths, with_rapidocr=False)
    alone = ({path.name: bench_plates.run([path], with_rapidocr=False) for path in model_paths}
             if len(model_paths) > 1 else {})
    width_px, height_px = PlateReader(model_paths[:1], threads=1).input_size_px
    names = " and ".join(f"`{path.name}`" for path in model_paths)
    made_by = "\n".join(f"  - {note}" for note in training_notes)
    single = "".join(f"\n\n{name} alone:\n\n{bench_plates.report(scores)}" for name, scores in alone.items())
    card = model_paths[0].with_name("plate_reader.md")
    real = kept_real_section(card)
    card.write_text(f"""# Plate reader ({names})

Reads the text of one plate crop for `plugins/plate_capture/reader.py` (`PlateReader`). The first
model reads every crop; the others join the second look at crops it reads unsurely. Which models
a site reads with: `reader.models_for(countries)`, the EU pair (`plate_reader_eu_seed4.tflite`,
`plate_reader_seed5.tflite`, below) when `RO` is among its countries, else these.

- **Input**: {height_px}x{width_px} grey, float32, standardised per crop (zero mean, unit
  contrast) by `reader_input`; a two-row plate's rows side by side (`side_by_side`: crops
  narrower than 1.8:1 are read both ways); batch 1 (resized per call for batches).
- **How a crop is read**: whole, in each layout, by the first model; a still image read less
  surely than `reader.SURE_READ` gets a second look: the first model reads it in the other
  {len(TRIMS) - 1} trims of `reader.TRIMS`, the others in all {len(TRIMS)}, and the text with the largest summed
Not done: the second look (`reread_unsure`) in the appliance, which is what still separates it
from `roadcam plate read` on these single frames, was not measured with the new settings (done
since: "The second look in the appliance" below)
- **Output**: 64 steps (the 2x32 feature map's top row, then its bottom row) x 37 softmax
  classes: the CTC blank, then `0-9A-Z`. Greedy CTC decoding.
- **Size**: {", ".join(f"{path.name} {path.stat().st_size / 1e6:.2f} MB" for path in model_paths)}; float16 weights.
- **Made by** `python -m roadcam.tools.plates.train_reader` (one model per seed, the same recipe):
{made_by}
- **Data**: synthetic plates from `tools/plates/synth.py` (Taiwanese formats including two-row
  scooter plates, the simulator's own drawing, US-like and Brazilian plates, and Romanian EU
  plates with the blue band); the real plates of `../shared/data` (plates-us, plates-br-crops)
  that are not held out; the Romanian plates of the ro-plates *training* split (two videos),
  whose text was read by eye from enlarged crops of the training boxes only
  (`tools/data/labels/ro-plates-training-text.csv`: 534 of 569 boxes, 64 plates; blurred,
  unsure and blanked boxes left out). Nothing measured below was trained on: the ro-plates
  validation split is two other videos, and no plate text is on both sides.

{real}## Held-out plates (US, BR: openalpr-derived, see SOURCES.md) and the simulator: exact reads, and time per \
plate on one core

`.venv/bin/python -m roadcam.tools.bench_plates --no-rapidocr` (this machine: 2 shared cores;
times include preprocessing). Run without `--no-rapidocr` (add `--limit 100` for a shorter run) to
measure RapidOCR on the same crops beside it.

The models together, as `roadcam plate read` reads:

{bench_plates.report(together)}{single}

## Limits

- Characters outside A-Z and 0-9 (the Chinese characters on some Taiwanese plates, state
  names, stickers) are not read.
- The reader reads one crop; fusing reads across a track's frames is the plugin's job.
""")
    return card
