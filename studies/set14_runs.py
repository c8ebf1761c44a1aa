"""What the photo studies share: running a program with its output in a log, and measuring a
model on Set14 with srim_eval (K = 10, LPIPS-Alex as NTIRE measures it)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")


def run_logged(command, log):
    """Runs `command` from the repository root, appending its output to `log`; raises if it fails."""
    with open(log, "a", encoding="utf-8") as out:
        subprocess.run(command, check=True, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def measure_on_set14(model, out_dir, name, flags=()):
    """srim_eval's Set14 results of `model` with extra `flags` (also kept as
    `out_dir/name_eval.json`)."""
    path = os.path.join(out_dir, f"{name}_eval.json")
    run_logged([sys.executable, "bin/srim_eval", f"--model={model}", f"--hr_dir={DATA}/Set14",
                "--num_samples=10", "--lpips=alex", f"--json={path}", *flags],
               os.path.join(out_dir, f"{name}.log"))
    with open(path, encoding="utf-8") as f:
        return json.load(f)["Set14"]
