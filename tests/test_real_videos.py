"""tools.data.real_videos on tiny synthetic git mirrors: each clip comes out of its own source."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from roadcam.tools.data import real_videos as rv


def _mirror(mirrors, repo: str, files: dict[str, bytes]) -> str:
    """A bare mirror at ``mirrors/OWNER+NAME/repo`` with one commit of ``files``; its commit."""
    git_dir, work = mirrors / repo.replace("/", "+") / "repo", mirrors / "work" / repo
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)

    def git(*args: str) -> str:
        return subprocess.run(["git", f"--git-dir={git_dir}", f"--work-tree={work}", *args],
                              check=True, capture_output=True, text=True).stdout
    subprocess.run(["git", "init", "-q", "--bare", str(git_dir)], check=True)
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clips")
    return git("rev-parse", "HEAD").strip()


def _clip(name: str, path: str, data: bytes, source: rv.Source) -> rv.Clip:
    return rv.Clip(name, path, hashlib.sha256(data).hexdigest(), "what", "validation", source)


def test_each_clip_is_copied_out_of_its_own_source_under_its_own_suffix(tmp_path, monkeypatch):
    mirrors = tmp_path / "mirrors"
    first = rv.Source("a/one", _mirror(mirrors, "a/one", {"dataset/v.avi": b"avi bytes"}), "MIT")
    second = rv.Source("b/two", _mirror(mirrors, "b/two", {"tests/data/t.mp4": b"mp4 bytes"}), "GPL-3.0")
    monkeypatch.setattr(rv, "CLIPS", (_clip("road", "dataset/v.avi", b"avi bytes", first),
                                      _clip("junction", "tests/data/t.mp4", b"mp4 bytes", second)))
    out = rv.extract(tmp_path / "data", mirrors)
    assert [p.name for p in out] == ["road.avi", "junction.mp4"]
    assert [p.read_bytes() for p in out] == [b"avi bytes", b"mp4 bytes"]


def test_a_clip_that_is_not_the_one_labelled_is_refused(tmp_path, monkeypatch):
    mirrors = tmp_path / "mirrors"
    source = rv.Source("a/one", _mirror(mirrors, "a/one", {"v.mp4": b"changed bytes"}), "MIT")
    monkeypatch.setattr(rv, "CLIPS", (_clip("road", "v.mp4", b"labelled bytes", source),))
    with pytest.raises(RuntimeError, match="is not the clip labelled here"):
        rv.extract(tmp_path / "data", mirrors)
    assert not (tmp_path / "data" / "video" / "road.mp4").exists()


def test_every_clip_names_its_source_and_a_known_role():
    assert {c.role for c in rv.CLIPS} <= {"tuning", "validation"}
    assert len({c.name for c in rv.CLIPS}) == len(rv.CLIPS)
    assert all(c.source.repo and len(c.source.commit) == 40 and c.source.licence for c in rv.CLIPS)
