"""Atomic writes: the target appears whole or not at all, with ordinary permissions."""

import os
import stat

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.fileio import atomic_open, atomic_path


def test_written_file_has_umask_permissions_not_0600(tmp_path):
    old = os.umask(0o022)
    try:
        zn.save({"w": np.ones(3, dtype=np.float32)}, tmp_path / "ckpt.safetensors")
        with atomic_open(tmp_path / "m.json") as f:
            f.write("{}")
    finally:
        os.umask(old)
    for name in ("ckpt.safetensors", "m.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write("half of the new cont")
            raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_interrupt_during_save_keeps_the_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    zn.save({"step": 1}, path)
    import safetensors.numpy

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        zn.save({"step": 2}, path)
    assert zn.load(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def test_atomic_path_creates_parent_and_rejects_read_modes(tmp_path):
    with atomic_path(tmp_path / "a" / "b.bin") as tmp:
        assert tmp.exists() and tmp.parent == tmp_path / "a"
        tmp.write_bytes(b"x")
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"x"
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(tmp_path / "x", "r"):
            pass
