"""Real traffic clips from fixed cameras, copied out of fetched git mirrors (never into the repo).

Each clip comes from one repository at one pinned commit (its :class:`Source`); ``fetch`` those
repositories first (they land in ``/work/.mirror/OWNER+NAME/repo``): ``andrewssobral/bgslibrary``
(MIT) and ``OpenTrafficCam/OTVision`` (GPL-3.0). This writes each clip to
``ROOT/video/NAME.EXT`` and checks its sha256::

    python -m roadcam.tools.data.real_videos --root /work/data          # extract (1 s)
    python -m roadcam.tools.data.real_videos --list                     # clips, roles, licences

Each clip has a role: ``tuning`` clips may steer detector and tracker settings, ``validation``
clips only measure (``tools/eval_video_counts.py`` prints them apart). The labels, made by eye
here, are in ``tools/data/labels/video-*.yaml``; ``tools/data/SOURCES.md`` has the licences.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .real_sets import DEFAULT_MIRRORS, GitTree

VIDEO_DIR = "video"
LABELS = Path(__file__).parent / "labels"


@dataclass(frozen=True)
class Source:
    """A repository at the commit the clips are taken from, and the licence they come under there."""

    repo: str
    commit: str
    licence: str

    def tree(self, mirrors: Path) -> GitTree:
        return GitTree(Path(mirrors) / self.repo.replace("/", "+") / "repo", self.commit)


BGSLIBRARY = Source("andrewssobral/bgslibrary", "af6171def6f7f77539c60fff14b04f484cc34559",
                    "MIT (LICENSE at that commit, Copyright (c) 2012-2019 Andrews Cordolino Sobral)")
OTVISION = Source("OpenTrafficCam/OTVision", "c88ee8f5904fe25a48a3934a5b33889476e05958",
                  "GPL-3.0 (LICENSE at that commit; the README: \"licensed under the GPL-3.0 License\"); test videos "
                  "committed by Martin Baerwolff, TU Dresden (OpenTrafficCam)")


@dataclass(frozen=True)
class Clip:
    """One clip: our name, its path in its source, its sha256, what it shows, its role."""

    name: str
    path: str
    sha256: str
    what: str
    role: str
    source: Source = BGSLIBRARY

    def file(self, root: Path) -> Path:
        return Path(root) / VIDEO_DIR / f"{self.name}{Path(self.path).suffix}"

    def labels(self) -> Path:
        return LABELS / f"video-{self.name}.yaml"


OT_TESTS = "tests/data/Testvideo_{}_FR20_2020-01-01_00-00-00.mp4"
CLIPS = (
    Clip("bgs-road", "dataset/video.avi", "3962dd341495322a8d3bf988f6edb461ed8a0696502011a6b2293027a99fc38d",
         "640x360, 30 fps, 12.5 s: a road seen from above and beside it, cars driving away (one way)", "tuning"),
    Clip("bgs-highway", "dataset/video02.avi", "64dd421c7a5430ba9f2b6876a4d97c2bb599c2023f42f8e3af4ac6e00dbe81a2",
         "320x240, 25 fps, 30 s: a dual carriageway from a CCTV mast (on-screen text), both ways", "tuning"),
    Clip("bgs-avenue", "dataset/video03.avi", "c0f046cd08c1c44a87a54c674793f1f6168bdbbb83d5526c22377fe262a2522a",
         "320x240, 60 fps, 28 s: three lanes towards the camera, seen from a bridge, shadows", "validation"),
    Clip("ot-truck", OT_TESTS.format("Cars-Truck"), "cb2ddf6f751091ea4fe76ae88fb79fdbaabcee8b9886d4aabf9ba0389f0b28a0",
         "800x600, 20 fps, 3 s: a German town junction from a pole; a skip lorry turning, cars, parked cars",
         "validation", OTVISION),
    Clip("ot-cyclist", OT_TESTS.format("Cars-Cyclist"),
         "59fd3c64c545c82d6a033e7015e170e7d23e6df0eb76a92a9b355931c3b3bb6f",
         "800x600, 20 fps, 3 s: the same junction 7 minutes later; a cyclist and a car towards the camera, "
         "people on the pavement", "validation", OTVISION),
)


def clip(name: str) -> Clip:
    found = next((c for c in CLIPS if c.name == name), None)
    if found is None:
        raise KeyError(f"no clip {name!r}; clips: {', '.join(c.name for c in CLIPS)}")
    return found


def extract(root: Path, mirrors: Path = DEFAULT_MIRRORS) -> list[Path]:
    """Write every clip under ``root/video`` (skipping one already there and intact)."""
    trees: dict[Source, GitTree] = {}
    out = []
    for item in CLIPS:
        target = item.file(root)
        if not (target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == item.sha256):
            tree = trees.setdefault(item.source, item.source.tree(mirrors))
            data = tree.read(item.path)
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise RuntimeError(f"{item.source.repo}@{item.source.commit}:{item.path} is not the clip labelled "
                                   "here (sha256 differs)")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roadcam.tools.data.real_videos",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/work/data"), help="data folder (outside the repository)")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS, help="where fetch put the git mirrors")
    parser.add_argument("--list", action="store_true", help="print the clips and stop")
    args = parser.parse_args(argv)
    if args.list:
        for source in dict.fromkeys(c.source for c in CLIPS):
            print(f"{source.repo} @ {source.commit}\n  licence: {source.licence}")
            for item in (c for c in CLIPS if c.source == source):
                print(f"  {item.name:12} {item.role:10} {item.path}: {item.what}")
        return 0
    for path in extract(args.root, args.mirrors):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
