"""Settings declared once: defaults without flags, flags generated from the declarations,
one validation path, old flag names accepted with a notice."""

import dataclasses
import logging
import re

import pytest
from absl import flags

from srim_tf import settings as settings_lib
from srim_tf.cli import settings_flags
from srim_tf.settings import GeneratorSettings, RunSettings
from tests.helpers import check_command_lines, tiny_config


def _parsed(*argv):
    """srim_train's flags, generated into a fresh FlagValues and parsed from `argv`."""
    values = flags.FlagValues()
    settings_flags.define_run_flags("srim_tf.cli.train", values)
    values(["srim_train", *argv])
    return values


def test_defaults_need_no_flag_parsing_and_are_the_generated_flags_defaults():
    defaults = RunSettings()
    assert settings_flags.run_settings(_parsed()) == defaults
    assert (defaults.data.hr_size, defaults.generator.channels, defaults.imle.num_lower_samples,
            defaults.training.lr_decay_steps) == (128, 64, 100, (80000, 160000, 240000, 320000))


def test_every_declared_setting_is_a_flag_with_its_help_and_nothing_else_is():
    values = _parsed()
    defined = {flag.name for flag in values.get_flags_for_module("srim_tf.cli.train")}
    declared = {field.name for _, field in settings_lib.declared_fields()}
    assert defined == declared | set(settings_lib.RENAMED)
    for _, field in settings_lib.declared_fields():
        assert values[field.name].help.endswith(field.metadata["help"])


def test_flags_parse_to_the_declared_types_once_at_the_command_line():
    settings = settings_flags.run_settings(_parsed("--lr_decay_steps=200,300", "--tfds_classes=3",
                                                   "--degradations=blur,jpeg", "--hr_size=64"))
    assert settings.training.lr_decay_steps == (200, 300)
    assert settings.data.tfds_classes == (3,) and settings.data.degradations == ("blur", "jpeg")
    assert settings_flags.run_settings(_parsed("--lr_decay_steps=")).training.lr_decay_steps == ()
    with pytest.raises(flags.IllegalFlagValueError, match="comma-separated list of ints"):
        _parsed("--lr_decay_steps=2,x")


@pytest.mark.parametrize("argv, message", [
    (["--hr_size=30"], "must be a multiple of 4 and >= 16"),
    (["--learning_rate=nan"], "must be a finite number > 0"),
    (["--code_jitter=-1"], "must be a finite number >= 0"),
    (["--num_convs=1"], "must be an integer >= 2"),
    (["--degradations=fog"], "must be some of blur, jpeg, noise"),
    (["--lr_decay_steps=99999999999999999999"], "must be an integer in [1, 1e+09]"),
])
def test_a_value_out_of_range_fails_at_the_flag_with_the_declarations_words(argv, message):
    with pytest.raises(flags.IllegalFlagValueError, match=re.escape(message)):
        _parsed(*argv)
    name, value = argv[0][2:].split("=")
    # The same check, and words, for a caller who builds settings without flags.
    with pytest.raises(ValueError, match=re.escape(message)):
        RunSettings().replace(**{name: _typed(name, value)})


def _typed(name, value):
    field = next(f for _, f in settings_lib.declared_fields() if f.name == name)
    if field.type is int:
        return int(value)
    if field.type is float:
        return float(value)
    return tuple(int(v) if v.isdigit() else v for v in value.split(","))


def test_a_misspelt_name_is_refused_and_settings_are_frozen():
    with pytest.raises(ValueError, match=r"Unknown settings \['hr_sise'\]"):
        RunSettings.from_flat({"hr_sise": 32})
    with pytest.raises(ValueError, match="selection_pach"):
        tiny_config().replace(selection_pach=2)
    with pytest.raises(AttributeError):
        tiny_config().data.selection_patch  # noqa: B018  (reading a name of another group fails)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny_config().data.hr_size = 64
    with pytest.raises(ValueError, match="--channels must be an integer"):
        GeneratorSettings(channels="8")


def test_settings_round_trip_through_the_config_json_dict():
    settings = tiny_config(lr_decay_steps=[2, 5], degradations=["blur"], selection_patch=2)
    assert settings.data.degradations == ("blur",)  # lists become tuples
    assert RunSettings.from_flat(settings.as_flat()) == settings
    assert GeneratorSettings.from_config(settings.as_flat()) == settings.generator


def test_a_config_recorded_before_a_generator_setting_existed_reads_as_then():
    old = {key: value for key, value in RunSettings().as_flat().items() if key != "stage_output"}
    assert GeneratorSettings.from_config(old).stage_output == "sigmoid"


def test_old_conv4_4_names_are_accepted_with_a_one_line_notice(caplog):
    with caplog.at_level(logging.WARNING):
        settings = tiny_config(loss_conv4_4_weight=0.3)
        values = _parsed("--selection_conv4_4_weight=0.5")
        from_flags = settings_flags.run_settings(values)
    assert settings.distances.loss_conv4_weight == 0.3
    assert from_flags.distances.selection_conv4_weight == 0.5
    notices = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert notices == ["--loss_conv4_4_weight is deprecated: use --loss_conv4_weight (the same setting).",
                       "--selection_conv4_4_weight is deprecated: use --selection_conv4_weight"
                       " (the same setting)."]
    with pytest.raises(ValueError, match="old name of --loss_conv4_weight: give one"):
        settings_flags.run_settings(_parsed("--loss_conv4_4_weight=1", "--loss_conv4_weight=2"))


def test_settings_that_cannot_work_together_are_refused_with_the_accepted_values():
    with pytest.raises(ValueError, match=r"accepted: 0 or one of \[1, 2, 4, 8\]"):
        tiny_config(selection_patch=3)
    # AlexNet's pools need 31 pixels; the 2x stage is chosen on hr_size / 2.
    with pytest.raises(ValueError, match="needs --hr_size >= 64"):
        tiny_config(selection_lpips_weight=1.0)
    tiny_config(selection_lpips_weight=1.0, lpips_net="vgg")
    with pytest.raises(ValueError, match="--selection_distance=l2"):
        tiny_config(selection_lpips_weight=1.0, hr_size=64, selection_distance="l1")
    with pytest.raises(ValueError, match="--code_pool_size must be 0"):
        tiny_config(code_pool_size=1, batch_size=2)
    with pytest.raises(ValueError, match="Patch-wise selection needs exact distances"):
        tiny_config(selection_patch=2, projection="gaussian")
    # Each layer is put on the grid at its own resolution, so any divisor of the LR side works.
    tiny_config(selection_patch=1, selection_conv4_weight=1.0)


def test_components_take_their_own_group():
    from srim_tf.training import build

    settings = tiny_config(channels=12, num_lower_samples=5, hr_size=48)
    model, _ = build.srim(settings)
    assert model.generator.settings == settings.generator
    assert model.imle == settings.imle and model.imle.num_lower_samples == 5


@pytest.mark.slow
def test_srim_train_refuses_contradictory_or_bad_flags_in_one_line_before_any_workdir(tmp_path):
    workdir = str(tmp_path / "w")
    check_command_lines("train", [
        ([f"--workdir={workdir}", "--selection_patch=3", "--hr_size=32"], 2,
         "--selection_patch must divide the LR patch size"),
        ([f"--workdir={workdir}", "--hr_size=30"], 2, "must be a multiple of 4"),
        ([f"--workdir={workdir}", "--lr_decay_steps=1,x"], 2, "comma-separated list of ints"),
        ([f"--workdir={workdir}", "--hr_sise=32"], 2, "Unknown command line flag 'hr_sise'"),
        (["--hr_size=32"], 2, "--workdir"),
    ])
    assert not (tmp_path / "w").exists()


def test_step_counts_past_what_training_can_count_are_refused_at_the_flag():
    # 1e20 passed the flag check and failed at the first step (int64 schedule boundaries);
    # 2**63 steps ran with a progress total of 9.2e18.
    with pytest.raises(ValueError, match=r"--lr_decay_steps must be an integer in \[1, 1e\+09\]"):
        tiny_config(lr_decay_steps=[10**20])
    with pytest.raises(ValueError, match=r"--train_steps must be an integer in \[1, 1e\+09\]"):
        tiny_config(train_steps=2**63)
