"""Training files deleted mid-run (`--data=folder:D`, then `rm D/*`): the rule is that the run
goes on with the files left, each checkpoint warning how many are gone, and stops with one
clear error when a whole pass over the files reads none; it never spins."""

import os
import threading

import numpy as np
import pytest

from srim_tf.training import loop as train
from tests.helpers import smooth_photo, tiny_config, write_image


def _folder(tmp_path, count):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        write_image(folder / f"p{i}.png", smooth_photo(rng, 40, 40))
    return folder


def _deleting_after_start(monkeypatch, paths):
    """Deletes `paths` once the run has built its inputs (the scan saw them)."""
    make_inputs = train._Run.make_inputs

    def then_delete(run):
        inputs = make_inputs(run)
        for path in paths:
            os.remove(path)
        return inputs

    monkeypatch.setattr(train._Run, "make_inputs", then_delete)


def _train_within(seconds, *args):
    """Runs `train_and_evaluate(*args)` in a thread; fails the test if it has not ended in time."""
    outcome = {}

    def target():
        try:
            outcome["logs"] = train.train_and_evaluate(*args)
        except Exception as error:  # handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"training still running after {seconds} s with its data gone"
    return outcome


@pytest.mark.slow
def test_training_stops_with_a_clear_error_when_every_file_is_gone(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 3)
    _deleting_after_start(monkeypatch, sorted(folder.glob("*.png")))
    config = tiny_config(data=f"folder:{folder}", num_validation_images=1, train_steps=50,
                         checkpoint_every=10, image_summary_every=100, cache_data=False)
    outcome = _train_within(90, config, str(tmp_path / "run"))
    assert "error" in outcome and "training data ran out" in str(outcome["error"])
    assert str(folder) in str(outcome["error"])


@pytest.mark.slow
def test_training_goes_on_with_the_files_left_and_says_how_many_are_gone(tmp_path, monkeypatch, caplog):
    folder = _folder(tmp_path, 4)
    _deleting_after_start(monkeypatch, sorted(folder.glob("*.png"))[:1])
    config = tiny_config(data=f"folder:{folder}", num_validation_images=1, train_steps=4,
                         checkpoint_every=2, image_summary_every=100, cache_data=False)
    with caplog.at_level("WARNING"):
        outcome = _train_within(90, config, str(tmp_path / "run"))
    assert "error" not in outcome, outcome.get("error")
    assert "1 of the 4 image files scanned at the start can no longer be read" in caplog.text
