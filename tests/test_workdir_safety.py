"""A workdir is used by one run at a time, and --restart deletes only a run's own files:
two runs on one workdir would interleave their checkpoints, and a mistyped --workdir with
--restart must not delete someone's folder."""

import json
import os

import pytest

from srim_tf.model import checkpoints
from srim_tf.training.loop import train_and_evaluate
from srim_tf.training.workdir_lock import WorkdirLock
from tests.helpers import TINY_TRAIN_FLAGS, check_command_lines, tiny_config


def _train(workdir, **overrides):
    settings = dict(train_steps=2, checkpoint_every=2, summary_every=2, image_summary_every=2)
    settings.update(overrides)
    return train_and_evaluate(tiny_config(**settings), str(workdir))


def test_a_second_run_on_a_held_workdir_refuses_naming_the_holder(tmp_path):
    workdir = tmp_path / "run"
    holder = WorkdirLock(str(workdir))  # as a running srim_train holds it
    try:
        with pytest.raises(ValueError, match=f"is in use by srim_train pid {os.getpid()} on"):
            _train(workdir)
        assert not os.path.exists(workdir / "checkpoints")
    finally:
        holder.release()
    # Released (a run's `train_and_evaluate` releases it too): the next run takes it.
    _train(workdir)
    _train(workdir, train_steps=4)
    assert checkpoints.latest_checkpoint(str(workdir)).endswith("ckpt-4")


@pytest.mark.slow
def test_srim_train_in_another_process_is_refused_a_held_workdir_in_one_line(tmp_path):
    """The lock is the kernel's (flock), between processes: srim_train started while this
    process holds the workdir fails with status 1, naming this process."""
    workdir = tmp_path / "run"
    holder = WorkdirLock(str(workdir))
    try:
        check_command_lines("train", [
            ([f"--workdir={workdir}", *TINY_TRAIN_FLAGS, "--train_steps=2"], 1,
             f"is in use by srim_train pid {os.getpid()} on"),
        ])
        assert not os.path.exists(workdir / "checkpoints")
    finally:
        holder.release()


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
