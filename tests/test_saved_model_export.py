"""Exporting a SavedModel (`serving/saved_model.export`): bounds it could not enforce are
refused before anything is written, and a version folder appears only complete, whatever
an interrupted or killed export left."""

import os
import subprocess

import pytest
import tensorflow as tf

from srim_tf.model.loading import load_generator
from srim_tf.serving import saved_model as export


def test_export_refuses_a_bound_it_cannot_enforce(trained_workdir, tmp_path):
    generator = load_generator(trained_workdir).generator
    with pytest.raises(ValueError, match="max_request_pixels must be in"):
        export.export(generator, str(tmp_path), max_request_pixels=2 ** 40)
    with pytest.raises(ValueError, match="noise_scale must be a finite number"):
        export.export(generator, str(tmp_path), noise_scale=float("nan"))
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_export_writes_a_version_folder_only_when_complete(trained_workdir, tmp_path, monkeypatch):
    generator = load_generator(trained_workdir).generator
    base = tmp_path / "srim"
    base.mkdir()
    # What a SIGKILLed export leaves: its temporary folder, named by a process now gone.
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = gone.pid
    (base / f".partial-{dead}-1").mkdir()
    (base / f".partial-{dead}-1" / "saved_model.pb").write_bytes(b"half")
    seen_during_save = []
    save = tf.saved_model.save

    def watched_save(*args, **kwargs):
        save(*args, **kwargs)
        seen_during_save.extend(os.listdir(base))
        raise KeyboardInterrupt  # interrupted after writing, before the rename

    monkeypatch.setattr(tf.saved_model, "save", watched_save)
    with pytest.raises(KeyboardInterrupt):
        export.export(generator, str(base))
    assert not any(name.isdigit() for name in seen_during_save)
    assert os.listdir(base) == []  # the dead export's folder and ours are gone
    monkeypatch.setattr(tf.saved_model, "save", save)
    assert export.export(generator, str(base)) == str(base / "1")
    assert sorted(os.listdir(base)) == ["1"]
