"""Sampling speed: achieved GFLOP/s against the same run's ceilings, and the
candidate speed-ups of the inference path measured against today's path by turns.

Sections of `benchmarks/run.py`:
    inference            per input size (128, 512, 2048) and precision: seconds, GFLOP/s,
                         share of the conv ceilings and peak RSS, one subprocess each
    inference_variants   `srim_sample`'s work on one 481x321 photo, K = 3, for today's path
                         and each candidate (jit_compile, K batched, tile sizes, precision),
                         taking turns in one process

FLOPs count the convolutions of the useful output only: the tiles' context margins are
work the tiling adds, so they lower the achieved figure rather than raise it.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf
from flops import generator_flops
from timing import best_time, interleaved_times, peak_rss_mb

from srim_tf.inference.tiling import SAMPLING_TILE_SIZE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO = os.path.join(ROOT, "..", "shared", "data", "BSD200", "100075.png")  # 481x321
PRECISIONS = ("float32", "bfloat16")
BEFORE_TILE = 256  # srim_sample's --tile_size default before this benchmark chose 192


def model_shape_ceiling(settings, size=272):
    """GFLOP/s of one bare hidden convolution of the model's own shape ((c + 3) -> c
    channels, k x k) on one size x size image, per precision: what the generator's layers
    can reach on this machine, below the 256-channel ceiling because oneDNN blocks channel
    counts in multiples of 16 (fp32) or 32 (bf16) and reuses each input less with fewer
    output channels."""
    c, k = settings["channels"], settings["kernel_size"]
    x = tf.random.uniform([1, size, size, c + 3])
    w = tf.random.normal([k, k, c + 3, c]) * 0.05
    flop = 2 * k * k * (c + 3) * c * size * size
    conv = tf.function(lambda dtype: tf.nn.conv2d(tf.cast(x, dtype), tf.cast(w, dtype), 1, "SAME"))
    return {precision: flop / best_time(lambda p=precision: conv(tf.as_dtype(p)).numpy(), 5) / 1e9
            for precision in PRECISIONS}


def _shipped_generator():
    """`(generator, its settings as a dict)` of the shipped model."""
    from srim_tf.model.loading import load_generator

    generator = load_generator("pretrained").generator
    return generator, generator.settings.as_dict()


# ---- per size and precision, one subprocess each (peak RSS is per process) ----------------------

def probe(size, precision):
    """Times sampling one size x size input (K = 1, default tiles) after a warm-up; prints JSON."""
    from srim_tf.inference.samplers import GeneratorSampler
    from srim_tf.inference.tiling import super_resolve_image

    generator, settings = _shipped_generator()
    sampler = GeneratorSampler(generator, "pretrained", precision)
    image = (np.random.default_rng(0).random((size, size, 3)) * 255).astype(np.uint8)
    super_resolve_image(sampler, image[:64, :64], 1)  # trace
    times = []
    for _ in range(3 if size <= 512 else 1):  # best of three where a run is short
        start = time.perf_counter()
        super_resolve_image(sampler, image, 1)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    flop = generator_flops(settings, 1) * size * size
    print(json.dumps({"tile_size": SAMPLING_TILE_SIZE, "seconds": seconds, "gflops": flop / seconds / 1e9,
                      "peak_rss_mb": peak_rss_mb()}))


def by_size(quick):
    _, settings = _shipped_generator()
    rows = {"model_shape_ceiling_gflops": model_shape_ceiling(settings), "sizes": {}}
    for size in (128, 512) if quick else (128, 512, 2048):
        for precision in PRECISIONS:
            out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run.py"),
                                  "--inference_probe", str(size), "--probe_precision", precision],
                                 capture_output=True, text=True, cwd=ROOT, check=True).stdout
            rows["sizes"][f"{size}x{size} {precision}"] = json.loads(out.strip().splitlines()[-1])
    return rows


# ---- candidate speed-ups, by turns -----------------------------------------------------------

class _VariantSampler:
    """A sampler (`samplers.GeneratorSampler`'s interface) whose tile function is compiled
    with XLA, or draws the K samples in one batched generator call instead of `map_fn`."""

    def __init__(self, generator, receptive_field, jit_compile=False, batched=False):
        from srim_tf.inference import noise
        from srim_tf.inference.sampling import super_resolve_with

        self.receptive_field = receptive_field

        def batched_samples(lr, k, seed, scale, offset):
            height, width = tf.shape(lr)[1], tf.shape(lr)[2]
            channels = generator.settings.noise_channels

            def codes(stage, factor):
                return tf.map_fn(lambda i: noise.positional_normal(
                    seed, i, stage, factor * offset[0], factor * offset[1], factor * height,
                    factor * width, channels), tf.range(k), fn_output_signature=tf.float32) * scale

            out = generator([tf.repeat(lr, k, axis=0), codes(0, 2), codes(1, 4)])  # N = 1
            return tf.cast(out, tf.float32)[None]

        def mapped_samples(lr, k, seed, scale, offset):
            return super_resolve_with(generator, lr, k, seed, scale, (offset[0], offset[1]))

        self._run = tf.function(batched_samples if batched else mapped_samples,
                                jit_compile=jit_compile)

    def __call__(self, lr, num_samples, seed, noise_scale, offset=(0, 0)):
        return self._run(tf.constant(lr, tf.float32), tf.constant(num_samples, tf.int32),
                         tf.constant(seed, tf.int64), tf.constant(noise_scale, tf.float32),
                         tf.constant(offset, tf.int32)).numpy()


def _photo(quick):
    from srim_tf.data import image_io

    if os.path.isfile(PHOTO):
        image, source = image_io.read_image(PHOTO).rgb, "BSD200/100075.png"
    else:
        coarse = np.random.default_rng(0).random((40, 60, 3))
        image = (tf.image.resize(coarse, (321, 481)).numpy().clip(0, 1) * 255).astype(np.uint8)
        source = "smooth random"
    return (image[:128, :128], f"{source}, a 128x128 crop") if quick else (image, source)


def variants(quick):
    """Seconds of `super_resolve_image` on one photo, K = 3, for each candidate, taking turns;
    every candidate's output is checked against today's path so all do the same work."""
    from srim_tf.inference.samplers import GeneratorSampler
    from srim_tf.inference.tiling import super_resolve_image
    from srim_tf.model.precision import in_precision

    generator, settings = _shipped_generator()
    image, source = _photo(quick)
    num_samples = 3
    plain = {p: GeneratorSampler(generator, "pretrained", p) for p in PRECISIONS}
    field = plain["float32"].receptive_field
    candidates = {"float32, tiles of 256 (before)": (plain["float32"], BEFORE_TILE)}
    for precision in PRECISIONS:
        computing = in_precision(generator, precision)
        candidates.update({
            f"{precision}, jit_compile": (_VariantSampler(computing, field, jit_compile=True), BEFORE_TILE),
            f"{precision}, K batched": (_VariantSampler(computing, field, batched=True), BEFORE_TILE),
        })
        for tile in (128, 192, 256, 384):
            # float32 tiles of 256 is today's path again: the pair shows the timing noise.
            candidates[f"{precision}, tiles of {tile}"] = (plain[precision], tile)
    calls = {name: (lambda s=sampler, t=tile: super_resolve_image(s, image, num_samples, seed=0, tile_size=t))
             for name, (sampler, tile) in candidates.items()}
    reference = {p: calls[f"{p}, tiles of 256"]() for p in PRECISIONS}
    largest_difference = {}
    for name, call in calls.items():  # also the warm-up (XLA compiles per tile shape)
        out = call().astype(np.int16)
        largest_difference[name] = int(np.abs(out - reference[name.split(",")[0]]).max())
    times = interleaved_times(calls, 1 if quick else 3, warmup=False)
    flop = generator_flops(settings, 1) * image.shape[0] * image.shape[1] * num_samples
    before = float(np.median(times["float32, tiles of 256 (before)"]))
    rows = {}
    for name, seconds in times.items():
        median = float(np.median(seconds))
        rows[name] = {"seconds": median, "rounds": seconds, "gflops": flop / median / 1e9,
                      "speedup": before / median,
                      "largest_difference_grey_levels": largest_difference[name]}
    return {"image": f"{source}, {image.shape[1]}x{image.shape[0]}", "num_samples": num_samples,
            "tera_flop": flop / 1e12, "variants": rows}


# ---- report ----------------------------------------------------------------------------------

def markdown(results, ceilings):
    lines = []
    sized = results.get("inference")
    conv = {"float32": ceilings["conv_gflops"], "bfloat16": ceilings["conv_bf16_gflops"]}
    if sized and "sizes" in sized:
        shape = sized["model_shape_ceiling_gflops"]
        tile = next(iter(sized["sizes"].values())).get("tile_size", 256)
        lines += ["", f"| sampling (LR input, K = 1, tiles of {tile}) | seconds | GFLOP/s | of the conv ceiling"
                  " | of the model-shape conv ceiling | peak RSS MB |", "|---|---|---|---|---|---|"]
        for name, row in sized["sizes"].items():
            precision = name.split()[-1]
            lines.append(f"| {name} | {row['seconds']:.2f} | {row['gflops']:.0f} | {100 * row['gflops'] / conv[precision]:.0f}%"
                         f" | {100 * row['gflops'] / shape[precision]:.0f}% | {row['peak_rss_mb']:.0f} |")
        lines.append(f"\nModel-shape conv ceiling (one bare 51 -> 48 channel 3x3 convolution, 272x272):"
                     f" {shape['float32']:.0f} GFLOP/s fp32, {shape['bfloat16']:.0f} bf16.")
    r = results.get("inference_variants")
    if r:
        lines += ["", f"| {r['image']}, K = {r['num_samples']} ({r['tera_flop']:.2f} TFLOP), by turns"
                  " | seconds (median) | all rounds | GFLOP/s | of the conv ceiling | speed-up | largest difference (grey levels) |",
                  "|---|---|---|---|---|---|---|"]
        for name, row in r["variants"].items():
            precision = name.split(",")[0]
            rounds = ", ".join(f"{t:.2f}" for t in row["rounds"])
            lines.append(f"| {name} | {row['seconds']:.2f} | {rounds} | {row['gflops']:.0f}"
                         f" | {100 * row['gflops'] / conv[precision]:.0f}% | {row['speedup']:.2f}x"
                         f" | {row['largest_difference_grey_levels']} |")
    return lines
