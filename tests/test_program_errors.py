"""The programs' command lines: a bad value or a missing flag is one `srim_<program>: error:`
line and exit status 2, a run that fails is one line and status 1, and nothing is written.

Each test runs every case of one program in one process (`check_command_lines`): the exit
status and stderr of a program are the point here. What the programs' bodies do with good
values is tested in-process (test_training_loop.py, test_output_names.py, ...).
"""

import json

import numpy as np
import pytest

from tests.helpers import TINY_TRAIN_FLAGS, check_command_lines, write_image

pytestmark = pytest.mark.slow  # each test starts a program process


def _image(path, height=32, width=32, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_training_flags_that_gave_nonsense_or_deep_errors_are_refused_in_one_line(tmp_path):
    workdir = f"--workdir={tmp_path / 'run'}"
    (tmp_path / "file").write_text("x")
    check_command_lines("train", [
        ([workdir, "--hr_size=4"], 2, "--hr_size=4: must be a multiple of 4 and >= 16"),
        ([workdir, "--hr_size=30"], 2, "--hr_size=30"),
        ([workdir, "--kernel_size=4"], 2, "--kernel_size=4: must be an odd integer"),
        ([workdir, "--noise_channels=0"], 2, "--noise_channels=0: must be an integer >= 1"),
        ([workdir, "--learning_rate=-1"], 2, "--learning_rate=-1.0: must be a finite number > 0"),
        ([workdir, "--learning_rate=nan"], 2, "--learning_rate=nan"),
        ([workdir, "--patches_per_image=0"], 2, "--patches_per_image=0"),
        ([workdir, "--channels=0"], 2, "--channels=0"),
        ([workdir, "--checkpoint_every=0"], 2, "--checkpoint_every=0"),
        ([workdir, "--tfds_classes=abc"], 2, "--tfds_classes=abc: must be a comma-separated list of ints"),
        ([workdir, "--lr_decay_steps=ten"], 2, "--lr_decay_steps=ten"),
        # Values that only fail together are refused at start-up too, before the workdir.
        ([workdir, *TINY_TRAIN_FLAGS, "--code_pool_size=1"], 2, "--code_pool_size=1 --batch_size=2"),
        ([workdir, "--jit_compile", "--projection=sparse"], 2, "--projection=sparse --jit_compile"),
        ([workdir, "--selection_patch=3", "--hr_size=32"], 2, "--selection_patch=3 --hr_size=32"),
        ([workdir, "--loss_conv4_4_weight=1", "--loss_conv4_weight=1"], 2,
         "--loss_conv4_4_weight is the old name of --loss_conv4_weight"),
        ([workdir, "--no_such_flag=1"], 2, "no_such_flag"),
        ([workdir, "stray"], 2, "Unexpected arguments"),
        ([], 2, "Flag --workdir must have a value other than None"),
        ([f"--workdir={tmp_path / 'file' / 'run'}"], 1, "not writable"),
    ])
    assert not (tmp_path / "run").exists()


def test_sample_program_refuses_bad_values_in_one_line(trained_workdir, tmp_path):
    inputs, out = tmp_path / "in", tmp_path / "out"
    _image(inputs / "x.png", 8, 8)
    empty = tmp_path / "empty"
    empty.mkdir()
    common = [f"--model={trained_workdir}", f"--input={inputs}", f"--output_dir={out}"]
    check_command_lines("sample", [
        ([*common, "--noise_scale=nan"], 2, "--noise_scale=nan: must be a finite number in [0, 10]"),
        ([*common, "--noise_scale=inf"], 2, "--noise_scale=inf"),
        ([*common, "--noise_scale=1e30"], 2, "--noise_scale=1e+30"),
        ([*common, "--tile_size=-1"], 2, "--tile_size=-1: must be an integer >= 0"),
        ([*common, "--overlap=-5"], 2, "--overlap=-5"),
        ([*common, "--num_samples=0"], 2, "--num_samples=0"),
        ([f"--output_dir={out}"], 2, "--input"),
        ([f"--input={inputs}"], 2, "--output_dir"),
        ([f"--input={empty}", *common[::2]], 2, "No input images found"),
        ([*common[1:], f"--model={tmp_path / 'nothing'}"], 1, "No model found"),
    ])
    assert not out.exists() or not any(out.rglob("*.png"))


def test_eval_refuses_bad_values_and_exits_1_after_writing_what_it_measured(tmp_path):
    good, mixed = tmp_path / "Good", tmp_path / "Mixed"
    _image(good / "a.png")
    _image(mixed / "b.png", seed=1)
    (mixed / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    _image(mixed / "tiny.png", 8, 8)
    report = tmp_path / "r.json"
    check_command_lines("eval", [
        ([f"--hr_dir={good}", "--num_samples=0"], 2, "--num_samples=0"),
        ([f"--hr_dir={good}", "--tile_size=-1"], 2, "--tile_size=-1"),
        ([], 2, "--hr_dir"),
        ([f"--hr_dir={tmp_path / 'missing'}"], 1, "HR folder not found"),
        # Unreadable images are skipped by name: status 1, and the rest is measured and written.
        ([f"--hr_dir={mixed}", f"--hr_dir={good}", f"--json={report}"], 1, None),
    ])
    results = json.loads(report.read_text())
    assert [r["image"] for r in results["Mixed"]["per_image"]] == ["b.png"]
    assert sorted(r["image"] for r in results["Mixed"]["skipped"]) == ["broken.png", "tiny.png"]
    assert len(results["Good"]["per_image"]) == 1 and np.isfinite(results["Good"]["y_psnr"])


def test_export_program_refuses_bad_values_in_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    common = [f"--export_dir={tmp_path / 'out'}"]
    check_command_lines("export", [
        ([*common, "--model=pretrained", "--noise_scale=nan"], 2, "--noise_scale=nan"),
        ([*common, "--model=pretrained", "--max_request_pixels=0"], 2, "--max_request_pixels=0"),
        ([*common, "--model=pretrained", "--version=0"], 2, "--version=0"),
        ([*common, "--model=pretrained", "--serving_tile_size=0"], 2, "--serving_tile_size=0"),
        (["--model=pretrained"], 2, "Give one of --export_dir, --pretrained_dir and --tflite"),
        ([*common, f"--model={empty}"], 1, "No model found"),
        # --model's old name, --workdir, still names the model.
        ([*common, f"--workdir={empty}"], 1, "No model found"),
    ])
    assert not (tmp_path / "out").exists()
