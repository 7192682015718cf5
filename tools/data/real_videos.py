"""Real traffic clips from fixed cameras, copied out of a fetched git mirror (never into the repo).

The clips are in ``andrewssobral/bgslibrary`` (MIT) at one pinned commit; ``fetch`` that
repository first (it lands in ``/work/.mirror/andrewssobral+bgslibrary/repo``). This writes
each clip to ``ROOT/video/NAME.avi`` and checks its sha256::

    python -m roadcam.tools.data.real_videos --root /work/data          # extract (1 s)
    python -m roadcam.tools.data.real_videos --list                     # clips, roles, licence

Each clip has a role: ``tuning`` clips may steer detector and tracker settings, ``validation``
clips only measure (``tools/eval_video_counts.py`` prints them apart). The labels, made by eye
here, are in ``tools/data/labels/video-*.yaml``; ``tools/data/SOURCES.md`` has the licence.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from .real_sets import DEFAULT_MIRRORS, GitTree

REPO = "andrewssobral/bgslibrary"
COMMIT = "af6171def6f7f77539c60fff14b04f484cc34559"
LICENCE = "MIT (LICENSE at that commit, Copyright (c) 2012-2019 Andrews Cordolino Sobral)"
VIDEO_DIR = "video"
LABELS = Path(__file__).parent / "labels"


@dataclass(frozen=True)
class Clip:
    """One clip: our name, its path in the repository, its sha256, what it shows, its role."""

    name: str
    path: str
    sha256: str
    what: str
    role: str

    def file(self, root: Path) -> Path:
        return Path(root) / VIDEO_DIR / f"{self.name}.avi"

    def labels(self) -> Path:
        return LABELS / f"video-{self.name}.yaml"


CLIPS = (
    Clip("bgs-road", "dataset/video.avi", "3962dd341495322a8d3bf988f6edb461ed8a0696502011a6b2293027a99fc38d",
         "640x360, 30 fps, 12.5 s: a road seen from above and beside it, cars driving away (one way)", "tuning"),
    Clip("bgs-highway", "dataset/video02.avi", "64dd421c7a5430ba9f2b6876a4d97c2bb599c2023f42f8e3af4ac6e00dbe81a2",
         "320x240, 25 fps, 30 s: a dual carriageway from a CCTV mast (on-screen text), both ways", "tuning"),
    Clip("bgs-avenue", "dataset/video03.avi", "c0f046cd08c1c44a87a54c674793f1f6168bdbbb83d5526c22377fe262a2522a",
         "320x240, 60 fps, 28 s: three lanes towards the camera, seen from a bridge, shadows", "validation"),
)


def clip(name: str) -> Clip:
    found = next((c for c in CLIPS if c.name == name), None)
    if found is None:
        raise KeyError(f"no clip {name!r}; clips: {', '.join(c.name for c in CLIPS)}")
    return found


def extract(root: Path, mirrors: Path = DEFAULT_MIRRORS) -> list[Path]:
    """Write every clip under ``root/video`` (skipping one already there and intact)."""
    tree = GitTree(Path(mirrors) / REPO.replace("/", "+") / "repo", COMMIT)
    out = []
    for item in CLIPS:
        target = item.file(root)
        if not (target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == item.sha256):
            data = tree.read(item.path)
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise RuntimeError(f"{REPO}@{COMMIT}:{item.path} is not the clip labelled here (sha256 differs)")
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
        print(f"{REPO} @ {COMMIT}\n  licence: {LICENCE}")
        for item in CLIPS:
            print(f"  {item.name:12} {item.role:10} {item.path}: {item.what}")
        return 0
    for path in extract(args.root, args.mirrors):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
