"""The four programs as a newcomer meets them: --help lists their flags, logs are quiet, old
flag names still work, and each flag reaches the settings its program's body runs with."""

import dataclasses
import io
import json
import logging
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from absl import flags
from absl import logging as absl_logging
from PIL import Image
from tqdm import tqdm

from srim_tf.cli import quiet
from tests.helpers import (
    ROOT,
    TINY_TRAIN_FLAGS,
    check_command_lines,
    command_line_reports,
    run_program,
    smooth_photo,
    write_image,
)

# Lines a user should not see: TF's C++ banner and libpng warnings, the CUDA probe on a
# CPU machine, TF's Python INFO lines (saver timings, renamed signature inputs).
NOISE = re.compile(r"absl::InitializeLog|^[IWE]0000 |cuInit|iCCP|oneDNN|cpu_feature_guard"
                   r"|Sharding callback|will be renamed|INFO:tensorflow", re.MULTILINE)


# Old flag names each program still accepts, with a notice: {old: new}.
RENAMED = {"train": {"loss_conv4_4_weight": "loss_conv4_weight",
                     "selection_conv4_4_weight": "selection_conv4_weight"},
           "sample": {},
           "eval": {"method": "model"},
           "export": {"workdir": "model", "tile_size": "serving_tile_size"}}


@pytest.mark.slow
@pytest.mark.parametrize("name, own_flags", [
    ("train", ["--data", "--hr_size", "--num_lower_samples", "--workdir", "--train_steps",
               "--strategy", "--loss_conv4_weight", "--init_from"]),
    ("sample", ["--input", "--output_dir", "--model", "--num_samples", "--tile_size",
                "--consistency", "--precision"]),
    ("eval", ["--model", "--hr_dir", "--num_samples", "--json", "--lpips", "--consistency",
              "--precision"]),
    ("export", ["--model", "--export_dir", "--noise_scale", "--max_input_pixels",
                "--serving_tile_size", "--tflite", "--pretrained_dir", "--consistency", "--precision"]),
])
def test_help_lists_the_programs_own_flags_with_defaults_and_exits_0(name, own_flags):
    result = run_program(name, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    for flag in own_flags:
        assert re.search(rf"^\s+--(\[no\])?{flag[2:]}: ", result.stdout, re.MULTILINE), flag
    # An old name is listed as such, pointing to its new one (absl wraps long help lines).
    for old, new in RENAMED[name].items():
        assert f" --{old}: Deprecated: the old name of --{new}." in " ".join(result.stdout.split()), old
    assert "(default: " in result.stdout
    # Only the program's own flags, not absl's and TensorFlow's ~250.
    assert "--logtostderr" not in result.stdout and "--test_srcdir" not in result.stdout
    assert not NOISE.search(result.stderr), result.stderr


@pytest.mark.slow
def test_training_and_export_print_no_tensorflow_banner_png_warnings_or_renames(tmp_path):
    # The builtin photos carry the iCCP profiles that libpng warns about.
    train = run_program("train", f"--workdir={tmp_path / 'run'}", *TINY_TRAIN_FLAGS,
                        "--train_steps=2", "--checkpoint_every=1", "--summary_every=1",
                        "--image_summary_every=2")
    assert train.returncode == 0, train.stderr[-3000:]
    assert not NOISE.search(train.stderr), train.stderr
    assert "Finished:" in train.stderr  # our own INFO lines still show
    export = run_program("export", f"--model={tmp_path / 'run'}", f"--export_dir={tmp_path / 'export'}")
    assert export.returncode == 0, export.stderr[-3000:]
    assert not NOISE.search(export.stderr), export.stderr
    assert export.stdout.strip() == str(tmp_path / "export" / "1")


# Runs a bin/ program in a fresh interpreter, then reports whether TensorFlow was imported.
_WITHOUT_TENSORFLOW = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exit:
    code = exit.code
print("TENSORFLOW_IMPORTED", "tensorflow" in sys.modules, "EXIT", code)
"""


@pytest.mark.parametrize("name, args, code, error", [
    ("train", ["--help"], 0, None),
    ("sample", ["--help"], 0, None),
    ("eval", ["--help"], 0, None),
    ("export", ["--help"], 0, None),
    ("train", ["--workdir=w", "--hr_sise=32"], 2, "Unknown command line flag 'hr_sise'"),
    ("train", ["--workdir=w", "--selection_patch=3", "--hr_size=32"], 2,
     "--selection_patch must divide the LR patch size"),
    ("sample", ["--input=x.png"], 2, "flag --output_dir=None: a value is required"),
    ("eval", ["--hr_dir=x", "--num_samples=0"], 2, "must be an integer in [1, 1000]"),
    ("eval", ["--hr_dir=x", "--table=tall"], 2, "value should be one of <short|wide>"),
    ("export", ["--model=x"], 2, "Give one of --export_dir, --pretrained_dir and --tflite."),
])
def test_help_and_flag_errors_are_answered_without_importing_tensorflow(name, args, code, error, tmp_path):
    result = subprocess.run([sys.executable, "-c", _WITHOUT_TENSORFLOW, os.path.join(ROOT, "bin", f"srim_{name}"),
                             *args], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert f"TENSORFLOW_IMPORTED False EXIT {code}" in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])
    if error:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"srim_{name}: error: ") and error in lines[0], lines
    else:
        assert "(default: " in result.stdout and not result.stderr, result.stderr
    assert not os.listdir(tmp_path)  # nothing written (no workdir "w")


def test_help_read_in_part_by_a_pipe_ends_quietly_with_status_0():
    read_end, write_end = os.pipe()
    os.close(read_end)  # a reader that has stopped, as `| head -1` has after its line
    try:
        result = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "srim_eval"), "--help"],
                                stdout=write_end, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, b"")


def test_verbosity_flag_is_read_before_flag_parsing():
    assert quiet.verbosity_requested(["srim_train", "--verbosity=1"]) == 1
    assert quiet.verbosity_requested(["srim_train", "-v", "2"]) == 2
    assert quiet.verbosity_requested(["srim_train", "--workdir=w"]) == 0
    assert quiet.verbosity_requested(["srim_train", "--verbosity=x"]) == 0


def test_log_lines_go_above_the_progress_bar_not_into_it(monkeypatch):
    if not flags.FLAGS.is_parsed():
        flags.FLAGS(["pytest"])
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    handler = absl_logging.get_absl_handler()
    stream, handler_filters = handler.python_handler.stream, list(handler.filters)
    logging.root.addHandler(handler)  # as absl's app.run does
    try:
        quiet.quiet_python_logs(0)
        with tqdm(total=3, file=sys.stderr, mininterval=0) as bar:
            bar.update(1)
            absl_logging.warning("checkpoint written")
            bar.update(1)
    finally:
        logging.root.removeHandler(handler)
        handler.python_handler.stream = stream
        handler.filters[:] = handler_filters
    # The line starts on a line of its own (the bar was cleared first) and the bar is redrawn.
    line = next(part for part in re.split(r"[\r\n]", stderr.getvalue()) if "checkpoint written" in part)
    assert line.startswith("W") and "%|" not in line, stderr.getvalue()
    assert stderr.getvalue().rstrip().endswith("]"), stderr.getvalue()


def test_eval_names_its_own_flag_for_an_unknown_model(tmp_path):
    from srim_tf.cli.eval import EvalSettings, evaluate_model

    nothing = tmp_path / "nothing"
    with pytest.raises(ValueError, match=re.escape(f"Received: {nothing} (--model)")):
        evaluate_model(EvalSettings(model=str(nothing), hr_dir=(str(tmp_path),), lpips="none"))


@pytest.mark.slow
def test_old_flag_names_still_work_with_a_one_line_notice(trained_workdir, tmp_path, rng):
    import tensorflow as tf

    (tmp_path / "hr").mkdir()
    write_image(tmp_path / "hr" / "x.png", smooth_photo(rng, 32, 24))
    (evaluated,) = command_line_reports("eval", [
        ["--method=bicubic", f"--hr_dir={tmp_path / 'hr'}", "--lpips=none"]])
    (exported,) = command_line_reports("export", [
        [f"--workdir={trained_workdir}", "--tile_size=16", f"--export_dir={tmp_path / 'srim'}"]])
    for report, renamed in ((evaluated, RENAMED["eval"]), (exported, RENAMED["export"])):
        assert report["code"] == 0 and report["traceback"] is None, report
        notices = [line for line in report["stderr"].splitlines() if "deprecated" in line]
        assert len(notices) == len(renamed), report["stderr"]
        for (old, new), notice in zip(renamed.items(), notices, strict=True):
            assert notice.endswith(f"--{old} is deprecated: use --{new} (the same setting)."), notice
    assert int(tf.saved_model.load(str(tmp_path / "srim" / "1")).tile_size.numpy()) == 16


@pytest.mark.slow
@pytest.mark.parametrize("program", ["sample", "eval", "export"])
def test_consistency_and_precision_flags_reach_the_programs_settings(program, trained_workdir,
                                                                      tmp_path, rng):
    """The command line gives what the body gives with those settings; what the settings do
    is tested in-process (test_consistency.py, test_inference_precision.py)."""
    import tensorflow as tf

    from srim_tf.cli.eval import EvalSettings, evaluate_model
    from srim_tf.cli.sample import SampleSettings, sample_images
    from srim_tf.inference import consistency
    from srim_tf.model.loading import load_generator

    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "x.png", smooth_photo(rng, 32, 24))
    both = ["--consistency", "--precision=bfloat16"]
    if program == "sample":
        (report,) = command_line_reports("sample", [[
            f"--model={trained_workdir}", f"--input={folder}", f"--output_dir={tmp_path / 'cli'}",
            "--num_samples=2", *both]])
        assert report["code"] == 0, report
        assert "in bfloat16, LR-consistent (8 back-projections)" in report["stderr"], report["stderr"]
        sample_images(SampleSettings(model=trained_workdir, input=(str(folder),), num_samples=2,
                                     output_dir=str(tmp_path / "body"), consistency=True,
                                     precision="bfloat16"))
        for k in range(2):
            np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "cli" / f"x_x4_s{k}.png")),
                                          np.asarray(Image.open(tmp_path / "body" / f"x_x4_s{k}.png")))
    elif program == "eval":
        check_command_lines("eval", [([f"--model={trained_workdir}", f"--hr_dir={folder}",
                                       "--num_samples=2", "--lpips=none", *both,
                                       f"--json={tmp_path / 'r.json'}"], 0, None)])
        with open(tmp_path / "r.json") as f:
            measured = json.load(f)["in"]
        settings = EvalSettings(model=trained_workdir, hr_dir=(str(folder),), num_samples=2,
                                lpips="none")
        expected = {name: evaluate_model(dataclasses.replace(settings, **changes))["in"]
                    for name, changes in [("both", dict(consistency=True, precision="bfloat16")),
                                          ("float32", dict(consistency=True))]}
        for key in ("y_psnr", "lr_psnr", "diversity_std"):
            assert measured[key] == pytest.approx(expected["both"][key], abs=1e-4), key
        assert measured["lr_psnr"] > 45.0  # consistent
        assert measured["y_psnr"] != pytest.approx(expected["float32"]["y_psnr"], abs=1e-4)  # bfloat16
    else:
        check_command_lines("export", [([f"--model={trained_workdir}", "--consistency",
                                         "--precision=float16", f"--export_dir={tmp_path / 'srim'}"],
                                        0, None)])
        loaded = tf.saved_model.load(str(tmp_path / "srim" / "1"))
        assert loaded.precision.numpy().decode() == "float16"
        receptive_field = load_generator(trained_workdir).generator.receptive_field
        assert int(loaded.receptive_field.numpy()) == receptive_field + consistency.context(8)
