"""A workdir is used by one run at a time, and --restart deletes only a run's own files (issue 24)."""

import json
import os
import subprocess
import sys

import pytest

from srim_tf.model import checkpoints
from srim_tf.training.loop import train_and_evaluate
from srim_tf.training.workdir_lock import WorkdirLock
from tests.conftest import tiny_config
from tests.test_train_program import ROOT, TINY_FLAGS


def _train(workdir, **overrides):
    settings = dict(train_steps=2, checkpoint_every=2, summary_every=2, image_summary_every=2)
    settings.update(overrides)
    return train_and_evaluate(tiny_config(**settings), str(workdir))


def test_a_second_run_on_a_held_workdir_refuses_naming_the_holder(tmp_path):
    workdir = tmp_path / "run"
    holder = WorkdirLock(str(workdir))  # as a running srim_train holds it
    try:
        second = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "srim_train"),
                                 f"--workdir={workdir}", *TINY_FLAGS, "--train_steps=2"],
                                capture_output=True, text=True, cwd=ROOT, timeout=600)
        assert second.returncode == 1
        error = second.stderr.strip().splitlines()[-1]
        assert "is in use by srim_train pid" in error and str(os.getpid()) in error, error
        assert not os.path.exists(workdir / "checkpoints")
    finally:
        holder.release()
    # Released (a run's `train_and_evaluate` releases it too): the next run takes it.
    _train(workdir)
    _train(workdir, train_steps=4)
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-4")


def test_restart_deletes_only_what_srim_train_wrote_and_refuses_other_folders(tmp_path):
    workdir = tmp_path / "run"
    _train(workdir)
    (workdir / "notes.txt").write_text("mine")
    (workdir / "train" / "my_plot.png").write_bytes(b"x")
    _train(workdir, restart=True, train_steps=2)
    assert (workdir / "notes.txt").read_text() == "mine"
    assert (workdir / "train" / "my_plot.png").exists()
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-2")
    # A folder that is not a workdir is left alone, whole.
    home = tmp_path / "home"
    (home / "train").mkdir(parents=True)
    (home / "train" / "essay.txt").write_text("draft")
    (home / "eval").mkdir()
    with pytest.raises(ValueError, match="it is not a workdir"):
        _train(home, restart=True)
    assert (home / "train" / "essay.txt").read_text() == "draft" and (home / "eval").is_dir()


@pytest.mark.parametrize("content", ['[1, 2, 3]', '{"name": "my project"}', "not json"])
def test_a_foreign_config_json_is_refused_and_kept(tmp_path, content):
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / "config.json").write_text(content)
    for restart in (False, True):
        with pytest.raises(ValueError, match="config"):
            _train(workdir, restart=restart)
        assert (workdir / "config.json").read_text() == content


def test_a_missing_state_file_resumes_from_the_checkpoints_on_disk(tmp_path):
    workdir = tmp_path / "run"
    _train(workdir, train_steps=4)
    os.remove(workdir / "checkpoints" / "checkpoint")
    before = {name: os.path.getmtime(workdir / "checkpoints" / name)
              for name in os.listdir(workdir / "checkpoints") if name.startswith("ckpt-4")}
    assert before
    logs = _train(workdir, train_steps=6)
    assert logs  # it trained steps 5 and 6, not 1 to 6 again
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-6")
    for name, mtime in before.items():  # ckpt-4 was read, not rewritten
        assert os.path.getmtime(workdir / "checkpoints" / name) == mtime
    assert json.loads((workdir / "config.json").read_text())["train_steps"] == 6
