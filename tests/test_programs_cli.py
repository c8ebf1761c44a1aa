"""The four programs as a newcomer meets them: --help lists their flags, logs are quiet."""

import io
import logging
import os
import re
import subprocess
import sys

import pytest
from absl import flags
from absl import logging as absl_logging
from tqdm import tqdm

from srim_tf.cli import quiet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lines a user should not see: TF's C++ banner and libpng warnings, the CUDA probe on a
# CPU machine, TF's Python INFO lines (saver timings, renamed signature inputs).
NOISE = re.compile(r"absl::InitializeLog|^[IWE]0000 |cuInit|iCCP|oneDNN|cpu_feature_guard"
                   r"|Sharding callback|will be renamed|INFO:tensorflow", re.MULTILINE)


def _program(name, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", f"srim_{name}"), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=environment)


@pytest.mark.parametrize("name, own_flags", [
    ("train", ["--data", "--hr_size", "--num_lower_samples", "--workdir", "--train_steps",
               "--strategy"]),
    ("sample", ["--input", "--output_dir", "--model", "--num_samples", "--tile_size"]),
    ("eval", ["--method", "--hr_dir", "--num_samples", "--json"]),
    ("export", ["--workdir", "--export_dir", "--noise_scale", "--max_input_pixels"]),
])
def test_help_lists_the_programs_own_flags_with_defaults_and_exits_0(name, own_flags):
    result = _program(name, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    for flag in own_flags:
        assert re.search(rf"^\s+{flag}: ", result.stdout, re.MULTILINE), (flag, result.stdout)
    assert "(default: " in result.stdout
    # Only the program's own flags, not absl's and TensorFlow's ~250.
    assert "--logtostderr" not in result.stdout and "--test_srcdir" not in result.stdout
    assert not NOISE.search(result.stderr), result.stderr


def test_training_and_export_print_no_tensorflow_banner_png_warnings_or_renames(tmp_path):
    # The builtin photos carry the iCCP profiles that libpng warns about.
    train = _program("train", f"--workdir={tmp_path / 'run'}", "--data=builtin", "--hr_size=32",
                     "--batch_size=2", "--patches_per_image=1", "--channels=4", "--kernel_size=3",
                     "--num_convs=2", "--num_lower_samples=2", "--num_upper_samples=2",
                     "--sample_chunk=2", "--vgg_weights=random", "--loss_conv2_2_weight=0",
                     "--loss_conv4_weight=0", "--loss_pixel_weight=1",
                     "--selection_pixel_weight=1", "--selection_conv4_weight=0",
                     "--lr_decay_steps=", "--num_validation_images=1", "--num_summary_samples=1",
                     "--train_steps=2", "--checkpoint_every=1", "--summary_every=1",
                     "--image_summary_every=2")
    assert train.returncode == 0, train.stderr[-3000:]
    assert not NOISE.search(train.stderr), train.stderr
    assert "Finished:" in train.stderr  # our own INFO lines still show
    export = _program("export", f"--workdir={tmp_path / 'run'}", f"--export_dir={tmp_path / 'export'}")
    assert export.returncode == 0, export.stderr[-3000:]
    assert not NOISE.search(export.stderr), export.stderr
    assert export.stdout.strip() == str(tmp_path / "export" / "1")


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
    result = _program("eval", f"--method={tmp_path / 'nothing'}", f"--hr_dir={tmp_path}")
    assert result.returncode != 0
    assert f"--method={tmp_path / 'nothing'}" in result.stderr, result.stderr
    assert "--model=" not in result.stderr
