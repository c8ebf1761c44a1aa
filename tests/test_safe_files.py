"""Files the programs write are whole or absent; outputs that would destroy a file are refused
before any work (issue 24)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from srim_tf import safe_files
from srim_tf.model import pretrained
from srim_tf.model.loading import load_generator
from tests.helpers import tiny_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"earlier": true}')
    with pytest.raises(OSError, match="No space left"):
        with safe_files.written_whole(str(target)) as f:
            f.write('{"half": ')
            raise OSError(28, "No space left on device")
    assert target.read_text() == '{"earlier": true}'
    assert os.listdir(tmp_path) == ["report.json"]


def test_export_of_a_pretrained_folder_that_fails_midway_keeps_the_old_weights(tmp_path, monkeypatch):
    generator = tiny_generator(channels=4, num_convs=2)
    config = {**generator.settings.as_dict(), "train_steps": 1}
    folder = str(tmp_path / "model")
    pretrained.save_pretrained(generator, config, folder, "ckpt-1")
    before = open(os.path.join(folder, "generator.weights.h5"), "rb").read()

    def disk_full(path):
        open(path, "wb").write(b"truncated")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generator, "save_weights", disk_full)
    with pytest.raises(OSError):
        pretrained.save_pretrained(generator, {**config, "train_steps": 2}, folder, "ckpt-2")
    assert open(os.path.join(folder, "generator.weights.h5"), "rb").read() == before
    assert json.load(open(os.path.join(folder, "config.json")))["checkpoint"] == "ckpt-1"
    assert sorted(os.listdir(folder)) == ["config.json", "generator.weights.h5"]
    load_generator(folder)  # still loads


def _eval(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", "srim_eval"), "--method=bicubic",
                           "--lpips=none", *args], capture_output=True, text=True, timeout=300)


def test_eval_refuses_outputs_that_would_destroy_a_file_before_any_work(tmp_path, rng):
    folder = tmp_path / "Set"
    folder.mkdir()
    image = folder / "baby.png"
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype(np.uint8)).save(image)
    original = image.read_bytes()
    for args, message in (
            ([f"--csv={image}"], "--csv names an image"),
            ([f"--json={tmp_path / 'r.txt'}", f"--csv={tmp_path / 'r.txt'}"], "must name different files"),
            ([f"--json={tmp_path / 'missing' / 'r.json'}"], "--json's folder does not exist"),
            ([f"--json={tmp_path}"], "names a folder")):
        result = _eval(f"--hr_dir={folder}", *args)
        assert result.returncode == 2, result.stderr[-2000:]
        assert message in result.stderr.strip().splitlines()[-1], result.stderr[-2000:]
        assert "Set" not in result.stdout  # refused before measuring anything
    assert image.read_bytes() == original
    ok = _eval(f"--hr_dir={folder}", f"--json={tmp_path / 'r.json'}", f"--csv={tmp_path / 'r.csv'}")
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert sorted(os.listdir(tmp_path)) == ["Set", "r.csv", "r.json"]  # no temporaries left
