"""tools.data.real_sets on a tiny synthetic git mirror: no network, no real data."""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import zlib

import pytest

from roadcam.tools.data import real_sets as rs

VOC = """<annotation><filename>{name}.mp4#t={t}.jpg</filename>
<size><width>1280</width><height>720</height><depth>3</depth></size>
<object><name>license-plate</name><bndbox><xmin>100.25</xmin><ymin>200</ymin>
<xmax>160.5</xmax><ymax>215</ymax></bndbox></object></annotation>"""


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\0" + b"\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def mirror(tmp_path):
    """A bare mirror holding a ro-plates-like and an OTLabels-like layout; returns (git dir, commit)."""
    work = tmp_path / "work"
    for split, name, t in (("train", "dayride_type1_001", 5), ("train", "dayride_type1_002", 7),
                           ("valid", "dayride_type1_001", 9)):
        (work / "dataset" / split / "annots").mkdir(parents=True, exist_ok=True)
        (work / "dataset" / split / "images").mkdir(parents=True, exist_ok=True)
        (work / "dataset" / split / "annots" / f"{name}.mp4#t={t}.xml").write_text(VOC.format(name=name, t=t))
        (work / "dataset" / split / "images" / f"{name}.mp4#t={t}.jpg").write_bytes(b"jpeg" + bytes([t]))
    for split in ("train", "val"):  # OTLabels keeps the same frame in several folders
        images = work / "OTLabels/data/labeled/images" / split
        labels = work / "OTLabels/data/labeled/labels" / split
        images.mkdir(parents=True)
        labels.mkdir(parents=True)
        (images / "vlcsnap-2020-12-27-13h57m15s421.png").write_bytes(_png(8, 4))
        (labels / "vlcsnap-2020-12-27-13h57m15s421.txt").write_text(
            "2 0.5 0.5 0.5 0.5\n3 0.25 0.25 0.5 0.5\n9 0.5 0.5 0.1 0.1\n")
    _git(work, "init", "-q")
    _git(work, "add", ".")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "data")
    commit = _git(work, "rev-parse", "HEAD").strip()
    return work / ".git", commit


def _sources(git_dir, commit):
    ro = dataclasses.replace(rs.source_named("ro-plates"), commit=commit,
                             validation_groups=frozenset({"dayride_type1_002"}))
    ot = dataclasses.replace(rs.source_named("otlabels"), commit=commit)
    return [(ro, rs.GitTree(git_dir, commit)), (ot, rs.GitTree(git_dir, commit))]


def test_extract_converts_labels_and_groups_by_clip(mirror, tmp_path):
    root = tmp_path / "data"
    records = [r for s, tree in _sources(*mirror) for r in rs.extract(s, tree, root)]
    ro = sorted((r for r in records if r.source == "ro-plates"), key=lambda r: r.image)
    assert [(r.group, r.split) for r in ro] == [("dayride_type1_001", "train"), ("dayride_type1_001", "train"),
                                                ("dayride_type1_002", "validation")]
    assert ro[0].image == "real/ro-plates/dayride_type1_001/t5.jpg"
    assert (root / ro[0].image).read_bytes() == b"jpeg\x05"
    (box,) = ro[0].boxes
    assert box.cls == "plate" and box.text is None
    assert (box.x, box.y, box.w, box.h) == pytest.approx((100.25, 200.0, 60.25, 15.0), abs=0.06)
    ot = [r for r in records if r.source == "otlabels"]
    assert len(ot) == 1 and (ot[0].width, ot[0].height) == (8, 4)   # duplicates taken once
    assert [b.cls for b in ot[0].boxes] == ["car", "scooter"]       # class 9 is not ours: skipped
    assert ot[0].boxes[0] == rs.Box("car", 2.0, 1.0, 4.0, 2.0)
    assert ot[0].split == "validation"


def test_manifests_keep_validation_away_from_training(mirror, tmp_path):
    root = tmp_path / "data"
    records = [r for s, tree in _sources(*mirror) for r in rs.extract(s, tree, root)]
    train_path, validation_path = rs.write_manifests(records, root)
    train = rs.training_records(root)
    validation = rs.validation_records(root)
    assert {r.split for r in train} == {"train"} and {r.split for r in validation} == {"validation"}
    assert not {(r.source, r.group) for r in train} & {(r.source, r.group) for r in validation}
    assert sorted(train + validation, key=lambda r: r.image) == sorted(records, key=lambda r: r.image)
    with pytest.raises(rs.ValidationSplitError):
        rs.read_manifest(validation_path, for_training=True)
    sneaky = tmp_path / "mixed.jsonl"
    sneaky.write_text(train_path.read_text() + validation_path.read_text())
    with pytest.raises(rs.ValidationSplitError):
        rs.read_manifest(sneaky, for_training=True)
    first = train_path.read_bytes()
    rs.write_manifests(records, root)
    assert train_path.read_bytes() == first                          # stable output


def test_a_group_on_both_sides_is_refused(tmp_path):
    a = rs.Record("s", "clip", "train", "a.jpg", 1, 1)
    b = rs.Record("s", "clip", "validation", "b.jpg", 1, 1)
    with pytest.raises(AssertionError):
        rs.write_manifests([a, b], tmp_path)


def test_split_by_hash_is_deterministic_and_about_one_in_five():
    sides = [rs.split_of("src", f"clip{i}") for i in range(500)]
    assert sides == [rs.split_of("src", f"clip{i}") for i in range(500)]
    assert 60 < sides.count("validation") < 140
    assert rs.split_of("src", "x", frozenset({"x"})) == "validation"
    assert rs.split_of("src", "y", frozenset({"x"})) == "train"


def test_missing_mirror_or_commit_says_fetch(tmp_path, mirror):
    with pytest.raises(rs.SourceMissing):
        rs.GitTree(tmp_path / "nowhere", "0" * 40)
    with pytest.raises(rs.SourceMissing):
        rs.GitTree(mirror[0], "1" * 40)


def test_record_round_trip_and_unknown_class():
    record = rs.Record("s", "g", "train", "i.jpg", 4, 3, (rs.Box("plate", 1, 2, 3, 1, "AB123"),))
    assert rs.Record.from_json(record.to_json()) == record
    with pytest.raises(ValueError):
        rs.Box("tank", 0, 0, 1, 1)
