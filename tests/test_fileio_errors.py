"""Atomic writes keep old files intact; CLI errors are one line with exit status 2."""

import os

import pytest

from ddspfx.errors import DdspfxError, cli_entry
from ddspfx.fileio import atomic_path, atomic_write_text


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "labels.jsonl"
    atomic_write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]  # no temp file left behind


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "x.txt"
    atomic_write_text(target, "a")
    atomic_write_text(target, "b")
    assert target.read_text() == "b"
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # permissions as open() would give them under this umask
    assert target.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    from ddspfx.fileio import atomic_path

    recreated = tmp_path / "w.bin"
    with atomic_path(recreated) as tmp:  # a writer that deletes the temp file and creates it 0600 (as safetensors)
        tmp.unlink()
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY, 0o600))
    assert recreated.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_cli_entry_turns_user_errors_into_one_line(capsys):
    @cli_entry
    def main(argv=None):
        raise DdspfxError("clip.wav is 0.10 s long; ddspfx needs at least 0.25 s of audio")

    assert main() == 2
    err = capsys.readouterr().err
    assert err == "ddspfx: error: clip.wav is 0.10 s long; ddspfx needs at least 0.25 s of audio\n"


def test_a_sidecar_describing_other_shapes_is_a_one_line_error(tiny_checkpoint, tmp_path):
    import json
    import shutil

    from ddspfx.checkpoint import load_model, sidecar_path
    from ddspfx.errors import DdspfxError

    path = tmp_path / "m.safetensors"
    shutil.copy(tiny_checkpoint, path)
    meta = json.loads(sidecar_path(tiny_checkpoint).read_text())
    meta["model"]["ff_mult"] = int(meta["model"].get("ff_mult", 4)) * 2  # same keys, other feed-forward widths
    sidecar_path(path).write_text(json.dumps(meta))
    with pytest.raises(DdspfxError, match="does not fit the model its sidecar describes") as info:
        load_model(path)
    assert "\n" not in str(info.value) and "size mismatch" in str(info.value)
