"""Every command in README.md runs as written, in a directory laid out like a fresh clone.

Commands are the README's indented code lines. Those that need the network, another
machine or software we do not ship are listed in NOT_RUN with the reason; a new command
that is neither run nor listed fails the test, so the README cannot drift silently.
Training runs with a few extra flags appended (2 steps instead of minutes); evaluation
with one sample instead of ten. A command that reads what an earlier one writes (a workdir,
a photo) runs that one first in its clone, so the tests hold in any order and split across
any number of pytest-xdist workers.
"""

import os
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT, readme_code_lines

SHARED = os.path.join(os.path.dirname(ROOT), "shared")

# Line prefixes of code lines that are not run here, and why.
NOT_RUN = {
    "python3 -m venv": "set-up: pip needs the network (its bin/ command is run separately)",
    "tensorflow_model_server": "TensorFlow Serving is not installed with this package",
    "curl ": "needs a running TensorFlow Serving",
    "TF_CONFIG=": "needs two hosts; tests/test_distribution_and_precision.py runs it as two workers on localhost",
    "# and the same on host2": "needs two hosts",
    "--data=": "flag examples, not commands",
    "import grpc": "gRPC client: needs tensorflow-serving-api and a running server",
    "from tensorflow_serving": "gRPC client",
    "stub = ": "gRPC client",
    "request": "gRPC client",
    "samples = tf.make_ndarray": "gRPC client",
}
# Appended to slow commands: the same code path, seconds instead of minutes.
FAST = {
    "bin/srim_train": ["--train_steps=2", "--checkpoint_every=2", "--summary_every=1",
                       "--image_summary_every=2", "--batch_size=2", "--num_lower_samples=2",
                       "--num_upper_samples=2", "--sample_chunk=2", "--num_validation_images=1",
                       "--num_summary_samples=1"],
    "bin/srim_eval": ["--num_samples=1"],
}


def runnable(line):
    """The command to run for a README line, or None if NOT_RUN lists it."""
    if line.startswith("python3 -m venv"):
        # The set-up's last step, when it is one of our programs.
        last = line.split("&&")[-1].strip()
        return last if last.startswith("bin/") else None
    if any(line.startswith(prefix) for prefix in NOT_RUN):
        return None
    return line


COMMANDS = [c for c in (runnable(line) for line in readme_code_lines()) if c]


def test_every_readme_code_line_is_run_or_listed_as_not_run():
    for command in COMMANDS:
        assert command.startswith(("bin/srim_", "python -c")), (
            f"New README command: add it to the test (or to NOT_RUN with a reason): {command}")
    assert len(COMMANDS) >= 8, COMMANDS


# Flags whose value is a path the command writes.
_WRITES = re.compile(r"--(?:workdir|output_dir|export_dir|tflite|json|csv|pretrained_dir)=(\S+)")


def written_paths(command):
    """Paths `command` writes: its output flags, a flagfile's --workdir, a saved image."""
    paths = _WRITES.findall(command) + re.findall(r"imsave\('([^']+)'", command)
    for flagfile in re.findall(r"--flagfile=(\S+)", command):
        with open(os.path.join(ROOT, flagfile), encoding="utf-8") as f:
            paths += re.findall(r"^--workdir=(\S+)", f.read(), re.MULTILINE)
    return paths


def prerequisites(index):
    """Indices of the earlier commands whose outputs `COMMANDS[index]` reads, in order."""
    read = set(re.findall(r"=(\S+)", COMMANDS[index])) - set(written_paths(COMMANDS[index]))
    needed = []
    for earlier in range(index):
        if any(value == path or value.startswith(path + "/") for value in read
               for path in written_paths(COMMANDS[earlier])):
            needed += [i for i in prerequisites(earlier) if i not in needed] + [earlier]
    return needed


def test_commands_that_read_an_earlier_output_run_it_first():
    sample = next(i for i, c in enumerate(COMMANDS) if "--model=workdirs/quickstart" in c)
    names = [COMMANDS[i].split()[0] for i in prerequisites(sample)]
    assert names == ["bin/srim_train", "python"], names


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A directory with the repository's tracked top-level folders, as a fresh clone has."""
    top = tmp_path_factory.mktemp("clone")
    path = top / "srim_tf"
    path.mkdir()
    for name in ("bin", "configs", "benchmarks", "studies", "tools", "srim_tf", "README.md"):
        os.symlink(os.path.join(ROOT, name), path / name)
    if os.path.isdir(SHARED):
        os.symlink(SHARED, top / "shared")
    return {"path": str(path), "ran": set()}


def _run(index, clone):
    """Runs `COMMANDS[index]` in the clone once, after the commands it needs."""
    for needed in prerequisites(index):
        if needed not in clone["ran"]:
            _run(needed, clone)
    command = COMMANDS[index]
    program = command.split()[0]
    full = " ".join([command.split(" #")[0], *FAST.get(program, [])])  # flags before a comment
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(["bash", "-c", full], cwd=clone["path"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, f"{full}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for output in written_paths(command):
        assert os.path.exists(os.path.join(clone["path"], output)), (output, os.listdir(clone["path"]))
    clone["ran"].add(index)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=[c[:60] for c in COMMANDS])
def test_readme_command_runs(index, clone):
    if "../shared/data" in COMMANDS[index] and not os.path.isdir(
            os.path.join(clone["path"], "..", "shared", "data")):
        pytest.skip("needs ../shared/data")
    if index not in clone["ran"]:
        _run(index, clone)
