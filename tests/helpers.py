"""What several test files share: paths, tiny settings, images, and running a program.

Fixtures live in `conftest.py`; plain functions here, imported by name. No test file
imports another test file.
"""

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.abspath(os.path.join(ROOT, "..", "shared", "data"))

# The flags of `tiny_config` as srim_train takes them, for the tests that run the program.
TINY_TRAIN_FLAGS = (
    "--data=builtin", "--hr_size=32", "--batch_size=2", "--patches_per_image=2", "--channels=8",
    "--kernel_size=3", "--num_convs=3", "--num_lower_samples=3", "--num_upper_samples=3",
    "--sample_chunk=3", "--vgg_weights=random", "--loss_conv2_2_weight=0", "--loss_conv4_weight=0",
    "--loss_pixel_weight=1", "--selection_pixel_weight=1", "--selection_conv4_weight=0",
    "--lr_decay_steps=", "--num_validation_images=2", "--num_summary_samples=2")


def tiny_config(**overrides):
    """`RunSettings`: the declared defaults, a model small enough for CPU tests, then `overrides`."""
    from srim_tf.settings import RunSettings

    tiny = dict(
        data="builtin", hr_size=32, batch_size=2, patches_per_image=2, channels=8, kernel_size=3,
        num_convs=3, num_lower_samples=4, num_upper_samples=4, sample_chunk=2,
        vgg_weights="random", loss_pixel_weight=1.0, loss_conv2_2_weight=0.0,
        loss_conv4_weight=0.0, selection_pixel_weight=1.0, selection_conv4_weight=0.0,
        train_steps=4, learning_rate=1e-3, lr_decay_steps=[], checkpoint_every=2,
        summary_every=2, image_summary_every=2, num_validation_images=2, num_summary_samples=2)
    return RunSettings.from_flat(tiny).replace(**overrides)


def tiny_generator(**overrides):
    """A `SRIMGenerator` small enough for CPU tests (8 channels, 3x3, 3 convolutions per stage)."""
    from srim_tf.model.generator import SRIMGenerator
    from srim_tf.settings import GeneratorSettings

    dtype = overrides.pop("dtype", None)
    settings = GeneratorSettings(**{**dict(channels=8, kernel_size=3, num_convs=3), **overrides})
    return SRIMGenerator(settings, dtype=dtype)


def shared_data(*parts):
    """A path under ../shared/data; the test is skipped where that folder is missing."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"needs ../shared/data ({path})")
    return path


def smooth_photo(rng, height, width, channels=3):
    """A uint8 image with some structure (bilinear upsampling of random 4x-coarser pixels)."""
    from PIL import Image

    coarse = (rng.random((max(height // 4, 1), max(width // 4, 1), channels)) * 255).astype(np.uint8)
    image = Image.fromarray(coarse[..., 0] if channels == 1 else coarse)
    return np.asarray(image.resize((width, height), Image.BILINEAR)).reshape(height, width, channels)


def write_image(path, array, mode=None):
    """Writes `array` (uint8 or uint16) as an image file, by the path's extension."""
    from PIL import Image

    Image.fromarray(array, mode).save(path)
    return str(path)


def run_program(name, *args, env=None, timeout=600, cwd=ROOT):
    """Runs bin/srim_<name> in a new process (where the process is the point: exit status,
    signals, locks, banners); returns the `CompletedProcess`."""
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    environment.update(env or {})
    return subprocess.run([sys.executable, os.path.join(ROOT, "bin", f"srim_{name}"), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=environment)


# Runs one program's `run()` once per argv in one new process (a TensorFlow start costs
# seconds), and reports each run's exit status, stderr, and any exception that escaped.
_DRIVER = """
import contextlib, io, importlib, json, sys, traceback
from absl import flags
module = importlib.import_module(sys.argv[1])
reports = []
for argv in json.loads(sys.argv[2]):
    flags.FLAGS.unparse_flags()
    sys.argv = argv
    stderr, code, escaped = io.StringIO(), 0, None
    with contextlib.redirect_stderr(stderr):
        try:
            module.run()
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
        except BaseException:
            escaped = traceback.format_exc()
    reports.append({"argv": argv, "code": code, "stderr": stderr.getvalue(), "traceback": escaped})
print("REPORTS" + json.dumps(reports))
"""


def check_command_lines(program, cases, timeout=300):
    """Runs srim_<program> on each of `cases`, `[(args, exit status, text of the error line)]`,
    in one process, and checks each: that status, no traceback, and (when text is given)
    exactly one `srim_<program>: error:` line holding it."""
    module, name = f"srim_tf.cli.{program}", f"srim_{program}"
    argvs = [[name, *args] for args, _, _ in cases]
    result = subprocess.run([sys.executable, "-c", _DRIVER, module, json.dumps(argvs)],
                            capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert "REPORTS" in result.stdout, result.stderr[-3000:]
    reports = json.loads(result.stdout.split("REPORTS", 1)[1])
    for (args, code, text), report in zip(cases, reports):
        assert report["traceback"] is None, (args, report["traceback"][-1500:])
        assert report["code"] == code, (args, report)
        if text:
            lines = [line for line in report["stderr"].splitlines() if f"{name}: error:" in line]
            assert len(lines) == 1 and text in lines[0], (args, report["stderr"][-1500:])


@contextlib.contextmanager
def captured_stdout():
    """Collects what a program body prints (`srim_eval`'s table)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        yield out


def command_line_reports(program, argvs, timeout=300):
    """Runs srim_<program> on each argv of `argvs` in one process, as `check_command_lines`
    does, and returns each run's `{"argv", "code", "stderr", "traceback"}`: for tests that
    read what a run logged (a deprecation notice, the model it loaded)."""
    module, name = f"srim_tf.cli.{program}", f"srim_{program}"
    result = subprocess.run([sys.executable, "-c", _DRIVER, module,
                             json.dumps([[name, *args] for args in argvs])],
                            capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert "REPORTS" in result.stdout, result.stderr[-3000:]
    return json.loads(result.stdout.split("REPORTS", 1)[1])


def checkpoint_step(workdir):
    """The step of the workdir's newest readable checkpoint (0 when there is none)."""
    from srim_tf.model import checkpoints

    latest = checkpoints.latest_checkpoint(workdir) if os.path.isdir(workdir) else None
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def readme_code_lines():
    """README.md's indented code lines, with `\\`-continued lines joined."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    lines, pending = [], ""
    for line in text.splitlines():
        if not line.startswith("    ") or not line.strip():
            continue
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        lines.append(pending)
        pending = ""
    return lines
