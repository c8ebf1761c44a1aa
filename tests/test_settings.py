"""RunSettings: one frozen field per srim_train flag, misspellings refused at start-up."""

import dataclasses
import subprocess
import sys

import pytest
from absl import flags

from srim_tf.training.settings import RunSettings
from tests.conftest import tiny_config
from tests.test_train_program import ROOT


def test_every_training_flag_is_a_field_and_every_field_a_flag():
    from srim_tf.cli import flags as srim_flags

    tiny_config()  # parses the flags
    defined = {flag.name for flag in flags.FLAGS.get_flags_for_module(srim_flags.__name__)}
    assert defined == {field.name for field in dataclasses.fields(RunSettings)}


def test_a_misspelt_or_missing_setting_is_refused_naming_it():
    values = tiny_config().as_dict()
    with pytest.raises(ValueError, match=r"Unknown: \['hr_sise'\]; missing: \['hr_size'\]"):
        RunSettings.from_dict({**{k: v for k, v in values.items() if k != "hr_size"}, "hr_sise": 32})
    with pytest.raises(TypeError, match="selection_pach"):
        tiny_config().replace(selection_pach=2)
    with pytest.raises(AttributeError):
        tiny_config().selection_pach  # noqa: B018  (reading a misspelt name fails too)


def test_settings_are_frozen_and_round_trip_through_config_json():
    settings = tiny_config(lr_decay_steps=["2", "5"], degradations=["blur"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.hr_size = 64
    assert settings.lr_decay_steps == ("2", "5")  # lists become tuples
    assert RunSettings.from_dict(settings.as_dict()) == settings


def test_srim_train_builds_its_settings_before_anything_else(tmp_path):
    # A flag the settings do not know (as a newly added flag without a field would be) stops
    # the program at start-up with one line, before any workdir is made.
    script = ("import sys; from absl import flags; from srim_tf.cli import train;"
              " flags.DEFINE_integer('hr_sise', 1, 'a flag without a field', module_name='srim_tf.cli.flags');"
              " sys.argv = ['srim_train', '--workdir=" + str(tmp_path / "w") + "']; train.run()")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Unknown: ['hr_sise']" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


def test_perceptual_settings_that_cannot_work_are_refused_with_the_accepted_values():
    from tests.conftest import tiny_config

    with pytest.raises(ValueError, match=r"accepted: 0 or one of \[1, 2, 4, 8\]"):
        tiny_config(selection_patch=3).check()
    # AlexNet's pools need 31 pixels; the 2x stage is chosen on hr_size / 2.
    with pytest.raises(ValueError, match="needs --hr_size >= 64"):
        tiny_config(selection_lpips_weight=1.0).check()
    tiny_config(selection_lpips_weight=1.0, lpips_net="vgg").check()
    with pytest.raises(ValueError, match="--selection_distance=l2"):
        tiny_config(selection_lpips_weight=1.0, hr_size=64, selection_distance="l1").check()
    # The check used to refuse an odd patch with conv4 selection; now each layer is put on
    # the grid at its own resolution, so any divisor of the LR side is accepted.
    tiny_config(selection_patch=1, selection_conv4_weight=1.0).check()
