"""srim_sample: super-resolves images, K samples each, with contact sheets and std maps.

Usage: srim_sample --input=photo.jpg --input=folder/ --output_dir=out [--model=WORKDIR]
Writes OUTPUT_DIR/<name>_x4_s<k>.png per sample, <name> being the input's path below the
folder all inputs share (with its extension when two inputs differ only by it); with
--contact_sheet, <name>_x4_sheet.png (bicubic beside the samples, each panel shrunk to at
most 2048 pixels a side) and <name>_x4_std.png (per-pixel std across samples).
Exits with status 1 if any input failed; the others are still processed.
"""

import os
import sys

import numpy as np
from absl import app, flags, logging
from tqdm import tqdm

from srim_tf import flag_checks, image_io, inference
from srim_tf.output_names import output_stems
from srim_tf.samplers import load_sampler
from srim_tf.programs import inference_flags, runner

flags.DEFINE_multi_string("input", None, "Image file, folder (recursive) or glob; repeatable.")
flags.DEFINE_string("output_dir", None, "Where the outputs go (created if missing).")
flags.DEFINE_string("model", "pretrained", "pretrained | a srim_train workdir | a checkpoint | a SavedModel.")
flags.DEFINE_integer("num_samples", 1, "Samples per input (K).")
flags.DEFINE_integer("seed", 0, "Noise seed: the same seed gives the same samples.")
flags.DEFINE_float("noise_scale", 1.0, "0: deterministic output at z = 0; 1: the training distribution.")
flags.DEFINE_integer("tile_size", 256, "Tile size in LR pixels (0: whole image at once).")
flags.DEFINE_integer("overlap", None, "Context margin per tile in LR pixels (default: receptive field).")
flags.DEFINE_bool("contact_sheet", False, "Also write a contact sheet and a std map per input.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(inference_flags)
flag_checks.at_least("num_samples", 1)
flag_checks.at_least("tile_size", 0)
flag_checks.at_least("overlap", 0)
flag_checks.noise_scale()


def process(sampler, path, stem, output_dir, inputs):
    """Writes the outputs of one input file under OUTPUT_DIR/<stem>_x4_*; returns their paths."""
    image = image_io.read_image(path)
    os.makedirs(os.path.dirname(os.path.join(output_dir, stem)), exist_ok=True)
    samples = inference.super_resolve_image(
        sampler, image.rgb, FLAGS.num_samples, FLAGS.seed, FLAGS.noise_scale, FLAGS.tile_size,
        FLAGS.overlap)
    outputs = {}
    for k, sample in enumerate(samples):
        pixels = inference.to_grey(sample) if image.grey else sample
        if image.alpha is not None:
            pixels = np.concatenate(
                [pixels, inference.upscale_alpha(image.alpha)[..., None]], axis=-1)
        outputs[os.path.join(output_dir, f"{stem}_x4_s{k}.png")] = (pixels, image.sixteen_bit)
    if FLAGS.contact_sheet:
        outputs[os.path.join(output_dir, f"{stem}_x4_sheet.png")] = (
            inference.contact_sheet(image.rgb, samples), False)
        outputs[os.path.join(output_dir, f"{stem}_x4_std.png")] = (
            inference.std_map(samples)[..., None], False)
    for target, (pixels, sixteen_bit) in outputs.items():
        if os.path.realpath(target) in inputs:
            raise ValueError(f"Refusing to overwrite the input file {target}")
        image_io.write_png(target, pixels, sixteen_bit)
    return list(outputs)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if not FLAGS.input or not FLAGS.output_dir:
        raise app.UsageError("--input and --output_dir are required.")
    if FLAGS.num_samples < 1:
        raise app.UsageError(f"--num_samples must be >= 1. Received: {FLAGS.num_samples}")
    paths = image_io.expand_inputs(FLAGS.input)
    if not paths:
        raise app.UsageError(f"No input images found in {FLAGS.input}")
    stems = output_stems(paths)
    sampler = load_sampler(FLAGS.model, consistency_iterations=(
        inference_flags.consistency_iterations()),
        precision=FLAGS.precision if FLAGS["precision"].present else None)
    logging.info("Model: %s", sampler.description)
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    inputs = {os.path.realpath(p) for p in paths}
    failed = []
    for path in tqdm(paths, unit="image"):
        try:
            process(sampler, path, stems[path], FLAGS.output_dir, inputs)
        except (ValueError, OSError) as error:
            failed.append(path)
            logging.error("Skipped %s: %s", path, error)
    logging.info("Done: %d written, %d failed.", len(paths) - len(failed), len(failed))
    if failed:
        sys.exit(1)


def run():
    runner.run(main)


if __name__ == "__main__":
    run()
