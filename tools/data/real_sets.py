"""Real, openly licensed labelled images for the plate and road-user models, in one format.

Each source is a public git repository brought onto this machine with the ``fetch`` tool (a
bare git directory under ``/work/.mirror/OWNER+NAME/repo``), pinned to one commit and one
licence in :data:`SOURCES` (``tools/data/SOURCES.md`` says what each holds and which sources
were turned down and why). This module copies the images out of the git objects into
``ROOT/real/SOURCE/GROUP/`` and writes two manifests of JSON lines beside them::

    python -m roadcam.tools.data.real_sets --root /work/data            # extract all, write manifests
    python -m roadcam.tools.data.real_sets --root /work/data --summary  # counts per source, split, class
    python -m roadcam.tools.data.real_sets --list                       # the sources, commits, licences

One line per image::

    {"source": "ro-plates", "group": "dayride_type1_002", "split": "train",
     "image": "real/ro-plates/dayride_type1_002/t1054.jpg", "width": 1280, "height": 720,
     "boxes": [{"cls": "plate", "x": 556.7, "y": 373.3, "w": 65.4, "h": 16.2, "text": null}]}

``image`` is relative to ROOT; boxes are in pixels (left, top, width, height); ``cls`` is one of
:data:`CLASSES`; ``text`` is the plate's characters where the source gives them, else null.

THE VALIDATION RULE
-------------------
Every image belongs to a *group*: the video clip, camera scene or recording session it came
from. A whole group is either training or validation, never both (frames of one clip look
alike, so splitting a clip leaks). The split is fixed: a source lists its validation groups
by name (:attr:`Source.validation_groups`), or, when it lists none, a group is validation
when the first byte of ``sha256("SOURCE:GROUP")`` is divisible by 5. The same data gives the
same split on every machine.

``ROOT/real/validation.jsonl`` is for measuring only. Training code, and any code that
chooses thresholds, calibrates scores or picks checkpoints, reads :func:`training_records`
(``train.jsonl``) and nothing else; :func:`read_manifest` with ``for_training=True`` raises
:class:`ValidationSplitError` on the validation manifest or on any validation record.
Evaluation reads :func:`validation_records` and reports on it. Never copy these images into
the repository: the data stays under ROOT, the repository holds this code and SOURCES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Classes of the unified format: the road-user detector's classes, a bicycle and the plate.
CLASSES = ("car", "scooter", "truck", "bus", "pedestrian", "bicycle", "plate")
#: COCO category ids (as YOLO exports of COCO-style labels use them) to our classes.
COCO_TO_CLASS = {0: "pedestrian", 1: "bicycle", 2: "car", 3: "scooter", 5: "bus", 7: "truck"}
#: The folder under ROOT that this module owns.
REAL_DIR = "real"
TRAIN_MANIFEST = "train.jsonl"
VALIDATION_MANIFEST = "validation.jsonl"
#: Where ``fetch`` puts mirrors.
DEFAULT_MIRRORS = Path("/work/.mirror")
#: A group is validation when sha256("SOURCE:GROUP")[0] % this == 0 (sources without a list).
VALIDATION_ONE_IN = 5


class ValidationSplitError(PermissionError):
    """Training code tried to read the validation split."""


class SourceMissing(FileNotFoundError):
    """A source's git mirror or pinned commit is not on this machine: fetch it first."""


@dataclass(frozen=True)
class Box:
    """One labelled object: class, left, top, width, height in pixels, plate text if known."""

    cls: str
    x: float
    y: float
    w: float
    h: float
    text: str | None = None

    def __post_init__(self) -> None:
        if self.cls not in CLASSES:
            raise ValueError(f"unknown class {self.cls!r}; expected one of {CLASSES}")


@dataclass(frozen=True)
class Record:
    """One image of the unified format (one line of a manifest)."""

    source: str
    group: str
    split: str
    image: str
    width: int
    height: int
    boxes: tuple[Box, ...] = ()

    def to_json(self) -> str:
        data = asdict(self)
        data["boxes"] = [asdict(box) for box in self.boxes]
        return json.dumps(data, ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls, line: str) -> Record:
        data = json.loads(line)
        data["boxes"] = tuple(Box(**box) for box in data["boxes"])
        return cls(**data)


@dataclass(frozen=True)
class Item:
    """What a source reader yields: an image's bytes, where it goes and its labels."""

    group: str
    name: str
    data: bytes
    width: int
    height: int
    boxes: tuple[Box, ...]


class GitTree:
    """Read-only view of one commit of a bare git mirror (``git cat-file``; no work tree)."""

    def __init__(self, git_dir: Path, commit: str):
        self.git_dir = Path(git_dir)
        self.commit = commit
        if not self.git_dir.exists():
            raise SourceMissing(f"{self.git_dir}: no mirror; bring it with the fetch tool")
        if self._git("cat-file", "-t", commit, check=False).strip() != b"commit":
            raise SourceMissing(f"{self.git_dir}: commit {commit} is not in the mirror")

    def _git(self, *args: str, check: bool = True) -> bytes:
        done = subprocess.run(["git", f"--git-dir={self.git_dir}", *args],
                              capture_output=True, check=False)
        if check and done.returncode:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def files(self, prefix: str = "") -> list[str]:
        """Every file path of the commit under ``prefix``, sorted."""
        out = self._git("ls-tree", "-r", "-z", "--name-only", self.commit, "--", prefix or ".")
        return sorted(p.decode() for p in out.split(b"\0") if p)

    def read(self, path: str) -> bytes:
        return self._git("cat-file", "blob", f"{self.commit}:{path}")


@dataclass(frozen=True)
class Source:
    """One pinned, licensed data set and how to read it."""

    name: str
    repo: str
    commit: str
    licence: str
    kind: str
    what: str
    reader: Callable[[GitTree], Iterator[Item]]
    validation_groups: frozenset[str] = field(default_factory=frozenset)

    def mirror(self, mirrors: Path) -> Path:
        return Path(mirrors) / self.repo.replace("/", "+") / "repo"


def split_of(source: str, group: str, validation_groups: frozenset[str] = frozenset()) -> str:
    """``"validation"`` or ``"train"`` for a whole group (see THE VALIDATION RULE)."""
    if validation_groups:
        return "validation" if group in validation_groups else "train"
    digest = hashlib.sha256(f"{source}:{group}".encode()).digest()
    return "validation" if digest[0] % VALIDATION_ONE_IN == 0 else "train"


# -- label readers ----------------------------------------------------------------------------

def parse_voc(xml_bytes: bytes, class_map: dict[str, str]) -> tuple[int, int, tuple[Box, ...]]:
    """Width, height and boxes of a Pascal VOC annotation; names not in ``class_map`` raise."""
    root = ET.fromstring(xml_bytes)
    width = int(float(root.findtext("size/width")))
    height = int(float(root.findtext("size/height")))
    boxes = []
    for obj in root.iter("object"):
        name = obj.findtext("name", "").strip()
        if name not in class_map:
            raise ValueError(f"VOC object class {name!r} has no mapping")
        x1, y1, x2, y2 = (float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append(_box(class_map[name], x1, y1, x2, y2, width, height))
    return width, height, tuple(boxes)


def parse_yolo(text: str, width: int, height: int, class_map: dict[int, str]) -> tuple[Box, ...]:
    """Boxes of a YOLO label file (class cx cy w h, normalised); unmapped classes are skipped."""
    boxes = []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        cls, cx, cy, w, h = int(fields[0]), *map(float, fields[1:5])
        if cls not in class_map:
            continue
        boxes.append(_box(class_map[cls], (cx - w / 2) * width, (cy - h / 2) * height,
                          (cx + w / 2) * width, (cy + h / 2) * height, width, height))
    return tuple(boxes)


def _box(cls: str, x1: float, y1: float, x2: float, y2: float, width: int, height: int,
         text: str | None = None) -> Box:
    """A box clipped to the image, rounded to 0.1 px."""
    x1, x2 = max(0.0, min(x1, x2)), min(float(width), max(x1, x2))
    y1, y2 = max(0.0, min(y1, y2)), min(float(height), max(y1, y2))
    return Box(cls, round(x1, 1), round(y1, 1), round(x2 - x1, 1), round(y2 - y1, 1), text)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


# -- the sources ------------------------------------------------------------------------------

def read_ro_plates(tree: GitTree) -> Iterator[Item]:
    """RobertLucian/license-plate-dataset: frames of 4 drive videos, VOC plate boxes, no text.

    The repository's own train/valid folders mix frames of one video; we ignore them and group
    by video (``dayride_type1_001.mp4#t=1054.xml`` is video ``dayride_type1_001``, second 1054).
    """
    for label in tree.files("dataset"):
        if "/annots/" not in label or not label.endswith(".xml"):
            continue
        xml_bytes = tree.read(label)
        width, height, boxes = parse_voc(xml_bytes, {"license-plate": "plate"})
        filename = ET.fromstring(xml_bytes).findtext("filename")
        image = label.rsplit("/annots/", 1)[0] + "/images/" + filename
        video, _, second = filename.rpartition(".mp4#t=")
        yield Item(video, f"t{second}", tree.read(image), width, height, boxes)


def read_otlabels(tree: GitTree) -> Iterator[Item]:
    """OpenTrafficCam/OTLabels (2020 commit): 17 frames of one roadside camera, COCO-id YOLO boxes.

    The same 17 frames sit in its train, val and test folders; each is taken once.
    """
    images = {p.rsplit("/", 1)[1]: p for p in tree.files("OTLabels/data/labeled/images")
              if p.endswith(".png")}
    labels = {p.rsplit("/", 1)[1][:-4]: p for p in tree.files("OTLabels/data/labeled/labels")
              if p.endswith(".txt")}
    for name in sorted(images):
        stem = name[:-4]
        if stem not in labels:
            continue
        data = tree.read(images[name])
        width, height = png_size(data)
        boxes = parse_yolo(tree.read(labels[stem]).decode(), width, height, COCO_TO_CLASS)
        session = stem.split("-")[1:4]  # vlcsnap-2020-12-27-...: one session, one camera
        yield Item("-".join(session), name, data, width, height, boxes)


SOURCES: tuple[Source, ...] = (
    Source(
        name="ro-plates",
        repo="RobertLucian/license-plate-dataset",
        commit="f00f309e4564e7f386fd7641569d861e2910d65f",
        licence="MIT (Copyright (c) 2020 Robert Lucian Chiriac)",
        kind="plates",
        what="Romania: 534 frames 1280x720 of 4 drive videos (3 day, 1 night), plate boxes, no text",
        reader=read_ro_plates,
        validation_groups=frozenset({"dayride_type1_002", "dayride_type1_003"}),
    ),
    Source(
        name="otlabels",
        repo="OpenTrafficCam/OTLabels",
        commit="63cab9513f22e09acd00567c7defb10be9a3f266",
        licence="GPL-3.0",
        kind="road_users",
        what="Germany: 17 frames of one fixed roadside camera (OTCamera), car/bus/truck/person boxes",
        reader=read_otlabels,
        validation_groups=frozenset({"2020-12-27"}),
    ),
)


def source_named(name: str) -> Source:
    for source in SOURCES:
        if source.name == name:
            return source
    raise KeyError(f"no source {name!r}; known: {', '.join(s.name for s in SOURCES)}")


# -- extraction and manifests -----------------------------------------------------------------

def extract(source: Source, tree: GitTree, root: Path) -> list[Record]:
    """Copy a source's images under ``ROOT/real/SOURCE/GROUP/`` and return its records.

    Files already there with the same size are left alone, so a second run is cheap.
    """
    records = []
    for item in source.reader(tree):
        relative = Path(REAL_DIR) / source.name / _safe(item.group) / _safe(item.name)
        target = Path(root) / relative
        if not (target.exists() and target.stat().st_size == len(item.data)):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(item.data)
        records.append(Record(source.name, item.group,
                              split_of(source.name, item.group, source.validation_groups),
                              relative.as_posix(), item.width, item.height, item.boxes))
    return records


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def write_manifests(records: list[Record], root: Path) -> tuple[Path, Path]:
    """Write ``train.jsonl`` and ``validation.jsonl`` under ``ROOT/real`` (sorted, stable)."""
    seen: dict[tuple[str, str], str] = {}
    for record in records:
        side = seen.setdefault((record.source, record.group), record.split)
        if side != record.split:
            raise AssertionError(f"group {record.source}/{record.group} is on both sides")
    folder = Path(root) / REAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, name in (("train", TRAIN_MANIFEST), ("validation", VALIDATION_MANIFEST)):
        lines = sorted(r.to_json() for r in records if r.split == split)
        path = folder / name
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def read_manifest(path: Path, *, for_training: bool) -> list[Record]:
    """Records of a manifest. With ``for_training`` the validation split is refused."""
    path = Path(path)
    if for_training and path.name == VALIDATION_MANIFEST:
        raise ValidationSplitError(f"{path}: the validation split is never read for training")
    records = [Record.from_json(line) for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    if for_training:
        for record in records:
            if record.split != "train":
                raise ValidationSplitError(f"{path}: {record.image} is a validation image")
    return records


def training_records(root: Path) -> list[Record]:
    """The training split: what training and tuning code may read."""
    return read_manifest(Path(root) / REAL_DIR / TRAIN_MANIFEST, for_training=True)


def validation_records(root: Path) -> list[Record]:
    """The validation split, for measuring and reporting only."""
    return read_manifest(Path(root) / REAL_DIR / VALIDATION_MANIFEST, for_training=False)


def summary(records: list[Record]) -> str:
    """Images and boxes per source and split, boxes per class, plates with text."""
    rows = Counter((r.source, r.split) for r in records)
    boxes = Counter((r.source, r.split, b.cls) for r in records for b in r.boxes)
    texts = Counter((r.source, r.split) for r in records for b in r.boxes if b.text)
    groups = {(r.source, r.split): set() for r in records}
    for r in records:
        groups[(r.source, r.split)].add(r.group)
    lines = ["| source | split | groups | images | boxes by class | plates with text |",
             "|---|---|---|---|---|---|"]
    for (source, split), count in sorted(rows.items()):
        by_class = ", ".join(f"{c} {n}" for (s, p, c), n in sorted(boxes.items())
                             if (s, p) == (source, split)) or "-"
        lines.append(f"| {source} | {split} | {len(groups[(source, split)])} | {count} | "
                     f"{by_class} | {texts[(source, split)]} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roadcam.tools.data.real_sets", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, help="data folder outside the repository, e.g. /work/data")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="where fetch put the git mirrors")
    parser.add_argument("--sources", default=",".join(s.name for s in SOURCES), help="comma-separated source names")
    parser.add_argument("--list", action="store_true", help="print the sources and exit")
    parser.add_argument("--summary", action="store_true", help="print counts of the manifests already written")
    args = parser.parse_args(argv)
    if args.list:
        for s in SOURCES:
            print(f"{s.name}\t{s.repo}@{s.commit}\t{s.licence}\t{s.what}")
        return 0
    if args.root is None:
        parser.error("--root is required")
    if args.summary:
        print(summary(read_manifest(args.root / REAL_DIR / TRAIN_MANIFEST, for_training=True)
                      + validation_records(args.root)))
        return 0
    records: list[Record] = []
    for name in args.sources.split(","):
        source = source_named(name.strip())
        try:
            tree = GitTree(source.mirror(args.mirrors), source.commit)
        except SourceMissing as missing:
            print(f"{source.name}: skipped: {missing}", file=sys.stderr)
            continue
        records += extract(source, tree, args.root)
    train, validation = write_manifests(records, args.root)
    print(summary(records))
    print(f"wrote {train} and {validation} (validation: never for training)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
