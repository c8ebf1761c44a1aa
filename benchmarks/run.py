#!/usr/bin/env python3
"""The benchmark suite: one command measures everything in one run, on this machine.

    python benchmarks/run.py            # full (about 18 minutes on 2 cores)
    python benchmarks/run.py --quick    # under 3 minutes; the paper-shape selection is
                                        # measured with 10 + 10 codes and scaled to 100 + 100,
                                        # the batch-16 step at batch 8 and doubled
    python benchmarks/run.py --sections inference,inference_variants --out benchmarks/inference
                                        # only those sections (and the ceilings)

Writes benchmarks/results.json and benchmarks/results.md (or --out PREFIX). Figures are
medians of repeats; compare ratios within one run, not across runs: machines are shared.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import inference_speed  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags as absl_flags  # noqa: E402
from flops import conv_flops, generator_flops, vgg_flops  # noqa: E402
from timing import best_time, interleaved_times, median_time, peak_rss_mb  # noqa: E402

from srim_tf.cli import settings_flags  # noqa: E402
from srim_tf.data import datasets, patches  # noqa: E402
from srim_tf.settings import DataSettings, RunSettings  # noqa: E402
from srim_tf.training import build  # noqa: E402
from srim_tf.training.distances import Distance  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Comparisons with the authors' PyTorch step are timed in one run against a peer written from
# the paper: benchmarks/peer.py. Figures typed in from a separate measurement are not quoted.
PEER_NOTE = ("Against PyTorch: `python benchmarks/peer.py` times a peer of the authors' network and"
             " step in the same run (benchmarks/peer.md).")


def config_from(flagfile=None, **overrides):
    """Defaults, then a config file, then random VGG weights and overrides: what srim_train
    would use. The config file is read by srim_train's own flags (a private set, so this
    process's global flags are left alone)."""
    settings = RunSettings()
    if flagfile:
        flag_values = absl_flags.FlagValues()
        settings_flags.define_run_flags(__name__, flag_values)
        absl_flags.DEFINE_string("workdir", None, "The configs name one; unused here.",
                                 flag_values=flag_values)
        flag_values(["bench", f"--flagfile={os.path.join(ROOT, flagfile)}"])
        settings = settings_flags.run_settings(flag_values)
    return settings.replace(**{"vgg_weights": "random", **overrides})


def smooth_batch(batch, hr_size, seed=0):
    rng = np.random.default_rng(seed)
    coarse = rng.random((batch, hr_size // 8, hr_size // 8, 3)).astype("float32")
    hr = tf.clip_by_value(tf.image.resize(coarse, [hr_size, hr_size], "bicubic"), 0, 1)
    return tuple(x.numpy() for x in patches.to_triple(hr))


# ---- training step, broken down ------------------------------------------------------------

def step_breakdown(name, config, repeats):
    """Times the parts of one training step and the step itself."""
    keras.utils.set_random_seed(0)
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config), jit_compile=config.training.jit_compile)
    lr, mid, hr = smooth_batch(config.data.batch_size, config.data.hr_size)
    g, feats, dist = model.generator, model.features, model.selection_distance
    b, h = lr.shape[0], lr.shape[1]
    imle = config.imle
    chunk = min(imle.sample_chunk, imle.num_lower_samples)
    lr_c = tf.repeat(lr, chunk, axis=0)
    z_lo = tf.random.normal([b * chunk, 2 * h, 2 * h, config.generator.noise_channels])
    z_up = tf.random.normal([b * chunk, 4 * h, 4 * h, config.generator.noise_channels])
    mid_c = g.lower([lr_c, lr_c, z_lo])
    hr_c = g.upper([mid_c, lr_c, z_up])
    # Timed on the models selection runs on, at its precision.
    stages, selection_features = model.selection_models
    gen_lo = tf.function(lambda: stages.lower([lr_c, lr_c, z_lo]))
    gen_up = tf.function(lambda: stages.upper([mid_c, lr_c, z_up]))
    feat_lo = tf.function(lambda: selection_features(mid_c))
    feat_up = tf.function(lambda: selection_features(hr_c))
    f_mid, f_hr = feats(mid), feats(hr)
    fs_mid, fs_hr = feat_lo(), feat_up()
    dist_lo = tf.function(lambda: tf.argmin(dist.to_targets(fs_mid, f_mid, chunk), axis=1))
    dist_up = tf.function(lambda: tf.argmin(dist.to_targets(fs_hr, f_hr, chunk), axis=1))
    chunks_lo = -(-imle.num_lower_samples // chunk)
    chunks_up = -(-imle.num_upper_samples // chunk)
    parts = {
        "sample generation": median_time(gen_lo, repeats) * chunks_lo + median_time(gen_up, repeats) * chunks_up,
        "feature extraction": median_time(feat_lo, repeats) * chunks_lo + median_time(feat_up, repeats) * chunks_up,
        "distances and selection": median_time(dist_lo, repeats) * chunks_lo + median_time(dist_up, repeats) * chunks_up,
    }
    codes = model.select_codes(lr, mid, hr)
    model.make_train_function()
    given = iter(tf.data.Dataset.from_tensors(
        dict(lr=lr, mid=mid, hr=hr, z_lo=codes.z_lo, z_up=codes.z_up)).repeat())
    parts["gradient step"] = median_time(lambda: model.train_function(given), repeats)
    model.make_train_function(force=True)
    plain = iter(tf.data.Dataset.from_tensors((lr, mid, hr)).repeat())
    step = median_time(lambda: model.train_function(plain), repeats)
    return {"name": name, "step_seconds": step, "parts_seconds": parts,
            "selection_and_distance_share": parts["distances and selection"] / step,
            "batch_size": config.data.batch_size, "hr_size": config.data.hr_size,
            "samples": [imle.num_lower_samples, imle.num_upper_samples]}


# ---- the machine's ceiling and achieved throughput ----------------------------------------------

def ceilings(quick):
    n = 2048 if quick else 4096
    a, b = tf.random.normal([n, n]), tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.matmul(a, b))
    # Best of five, not the median: a ceiling is what the machine can do, and a shared
    # machine's slow spells would otherwise lower it (and flatter every share of it).
    t_matmul = best_time(lambda: matmul().numpy(), 5)
    x, w = tf.random.normal([8, 64, 64, 256]), tf.random.normal([3, 3, 256, 256])
    conv = tf.function(lambda dtype: tf.nn.conv2d(tf.cast(x, dtype), tf.cast(w, dtype), 1, "SAME"))
    t_conv = best_time(lambda: conv(tf.float32).numpy(), 5)
    t_conv16 = best_time(lambda: conv(tf.bfloat16).numpy(), 5)
    conv_gflop = conv_flops(256, 256, 3, 8 * 64 * 64) / 1e9
    return {"matmul_gflops": 2 * n ** 3 / t_matmul / 1e9, "conv_gflops": conv_gflop / t_conv,
            "conv_bf16_gflops": conv_gflop / t_conv16}


def paper_shapes(quick):
    """The authors' comparisons at the paper's shapes: 32 -> 128, 64 ch, 5x5, 9 convs."""
    rows = {}
    m = 10 if quick else 100
    for precision in ("float32", "bfloat16"):
        # In the bfloat16 row the gradient step computes in bfloat16 too.
        config = config_from(None, batch_size=16, num_lower_samples=m, num_upper_samples=m,
                             sample_chunk=min(m, 20), selection_precision=precision,
                             mixed_precision="mixed_bfloat16" if precision == "bfloat16" else "off")
        keras.utils.set_random_seed(0)
        model, _ = build.srim(config)
        model.compile(optimizer=build.optimizer(config))
        g = model.generator
        lr20 = tf.random.uniform([20, 32, 32, 3])
        z_lo, z_up = (tf.random.normal(s) for s in g.noise_shapes(20, 32, 32))
        @tf.function
        def chunk():
            stages = model.selection_models[0]
            return stages.upper([stages.lower([lr20, lr20, z_lo]), lr20, z_up])

        t_chunk = median_time(lambda: chunk().numpy(), 1 if quick else 3)
        lr1, mid1, hr1 = smooth_batch(1, 128)
        select = tf.function(model.select_codes)
        t_select = median_time(lambda: [x.numpy() for x in select(lr1, mid1, hr1)], 1, warmup=1)
        scale = 100 / m
        row = {"generator_chunk_20_seconds": t_chunk,
               "generator_gflops": 20 * generator_flops(config, 32) / t_chunk / 1e9,
               "select_per_image_seconds": t_select * scale,
               "select_extrapolated_from": f"{m}+{m} codes" if scale != 1 else None}
        # The step is compute-bound, linear in the batch: --quick times batch 8 and doubles it.
        step_batch = 8 if quick else 16
        lr16, mid16, hr16 = smooth_batch(step_batch, 128)
        z_lo16, z_up16 = (tf.random.normal(s) for s in g.noise_shapes(step_batch, 32, 32))
        row["train_step_extrapolated_from"] = f"batch {step_batch}" if quick else None
        model.make_train_function()
        # As srim_train runs it with code reuse, the pool gives codes and target features;
        # without reuse, selection hands over its target features: both skip recomputing them.
        features16 = {name: v.numpy() for name, v in model.features(hr16).items()}
        batch16 = dict(lr=lr16, mid=mid16, hr=hr16, z_lo=z_lo16, z_up=z_up16)
        given = iter(tf.data.Dataset.from_tensors({**batch16, "hr_features": features16}).repeat())
        recomputed = iter(tf.data.Dataset.from_tensors(batch16).repeat())
        fns = {"train_step_batch_16": lambda: model.train_function(given)["loss"].numpy()}
        if not (quick and precision == "float32"):  # --quick: the bf16 before/after only
            fns["train_step_batch_16_recomputing_targets"] = lambda: model.train_function(recomputed)["loss"].numpy()
        if not quick and precision == "bfloat16":
            fns.update(gradient_step_variants(model, (lr16, mid16, hr16, z_lo16, z_up16), features16))
        times = interleaved_times(fns, 1 if quick else 5 if precision == "bfloat16" else 3)
        scale = 16 / step_batch
        row["train_step_rounds_seconds"] = {name: [t * scale for t in v] for name, v in times.items()}
        for name in ("train_step_batch_16", "train_step_batch_16_recomputing_targets"):
            if name in times:
                row[f"{name}_seconds"] = float(np.median(times.pop(name))) * scale
        if times:
            row["gradient_step_variants"] = {name: float(np.median(v)) for name, v in times.items()}
        if precision == "float32":
            feats = tf.function(lambda x: model.features(x)["conv4"])
            images = tf.random.uniform([20, 128, 128, 3])
            t_vgg = median_time(lambda: feats(images).numpy(), 1 if quick else 3)
            row["vgg_gflops"] = 20 * vgg_flops(128) / t_vgg / 1e9
        rows[precision] = row
    return rows


def gradient_step_variants(model, batch, features):
    """Before/after of the training-step cuts, as callables to time together: skip
    convolutions concatenated (one 67-channel convolution) or split (64 + 3 channels), and
    target features recomputed or given. The `training` flag picks the convolution path."""
    variables = model.generator.trainable_variables
    fns = {}
    for split in (False, True):
        for given in (False, True):
            @tf.function
            def step(lr, mid, hr, z_lo, z_up, targets, split=split, given=given):
                with tf.GradientTape() as tape:
                    loss, _ = model.step_loss(lr, mid, hr, z_lo, z_up, training=split,
                                          hr_features=targets if given else None)
                model.optimizer.apply(tape.gradient(loss, variables), variables)
                return loss

            name = f"skip convolutions {'split' if split else 'concatenated'}, target features {'given' if given else 'recomputed'}"
            fns[name] = lambda step=step: step(*batch, features).numpy()
    return fns


def projections(quick):
    """Projected vs exact nearest-sample agreement and time, on VGG conv4 (VGG19's conv4_4) of real samples."""
    config = config_from("configs/quickstart.cfg", hr_size=128, selection_conv4_weight=1.0)
    model, _ = build.srim(config)
    batch, m = (4, 16) if quick else (16, 32)
    lr, mid, hr = smooth_batch(batch, 128, seed=1)
    g = model.generator
    lr_c = tf.repeat(lr, m, axis=0)
    z_lo, z_up = (tf.random.normal(s) for s in g.noise_shapes(batch * m, 32, 32))
    samples = g([lr_c, z_lo, z_up])
    features = model.features(samples)
    targets = model.features(hr)
    rows = {}
    exact = None
    for projection in ("none", "gaussian", "sparse"):
        distance = Distance({"conv4": 1.0}, "l2", projection, 1000, seed=0)
        fn = tf.function(lambda: tf.argmin(distance.to_targets(features, targets, m), axis=1))
        chosen = fn().numpy()
        exact = chosen if exact is None else exact
        if projection == "none":
            d = distance.to_targets(features, targets, m).numpy()
            spread = float(np.median((d.max(axis=1) - d.min(axis=1)) / d.min(axis=1)))
        rows[projection] = {"seconds": median_time(lambda: fn().numpy(), 1 if quick else 3),
                            "relative_spread_of_exact_distances": spread,
                            "agreement_with_exact": float(np.mean(chosen == exact)),
                            "inputs": batch, "samples_per_input": m,
                            "dimension": int(np.prod(features["conv4"].shape[1:]))}
    return rows


def data_pipeline(quick):
    sources = "builtin"
    if os.path.isdir(os.path.join(ROOT, "..", "shared", "data", "T91")):
        sources = "folder:../shared/data/T91,folder:../shared/data/BSD200"
    rows = {}
    for hr_size, batch in ((64, 16), (128, 16)):
        dataset = datasets.make_dataset(DataSettings(data=sources, hr_size=hr_size, batch_size=batch))
        iterator = iter(dataset)
        next(iterator)
        n = 5 if quick else 40
        start = time.perf_counter()
        for _ in range(n):
            next(iterator)
        rows[f"hr{hr_size}"] = {"triples_per_second": n * batch / (time.perf_counter() - start),
                                "sources": sources}
    return rows


# ---- report ------------------------------------------------------------------------------------

def markdown(results):
    """The report of whichever sections `results` holds (the ceilings always)."""
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`.", ""]
    c = results["ceilings"]
    lines += ["| ceiling | GFLOP/s |", "|---|---|",
              f"| matmul fp32 | {c['matmul_gflops']:.0f} |", f"| conv 3x3 fp32 | {c['conv_gflops']:.0f} |",
              f"| conv 3x3 bf16 | {c['conv_bf16_gflops']:.0f} |"]
    if "steps" in results:
        lines += _steps_markdown(results["steps"])
    if "paper" in results:
        lines += _paper_markdown(results["paper"])
    if "projections" in results:
        lines += ["", "| projection (conv4_4, k = 1000) | seconds | agreement with exact | (max - min) / min of exact distances |",
                  "|---|---|---|---|"]
        for name, row in results["projections"].items():
            lines.append(f"| {name} (D = {row['dimension']}, {row['inputs']} inputs x {row['samples_per_input']}) | {row['seconds']:.4f}"
                         f" | {100 * row['agreement_with_exact']:.0f}% | {100 * row['relative_spread_of_exact_distances']:.1f}% |")
    lines += inference_speed.markdown(results, c)
    if "data" in results:
        lines += ["", "| data pipeline | triples/s | training demand (triples/s) |", "|---|---|---|"]
        demand = {row["hr_size"]: row["batch_size"] / row["step_seconds"] for row in results.get("steps", [])}
        for name, row in results["data"].items():
            need = demand.get(int(name[2:]))
            lines.append(f"| {name} ({row['sources']}) | {row['triples_per_second']:.0f} | {need:.1f} |" if need else
                         f"| {name} ({row['sources']}) | {row['triples_per_second']:.0f} | - |")
    return "\n".join(lines) + "\n"


def _steps_markdown(rows):
    lines = ["", "| training step | seconds | generation | features | distances+selection | gradient step | selection share |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        p = row["parts_seconds"]
        lines.append(f"| {row['name']} (batch {row['batch_size']}, HR {row['hr_size']}, {row['samples'][0]}+{row['samples'][1]} codes)"
                     f" | {row['step_seconds']:.3f} | {p['sample generation']:.3f} | {p['feature extraction']:.3f}"
                     f" | {p['distances and selection']:.4f} | {p['gradient step']:.3f} | {100 * row['selection_and_distance_share']:.2f}% |")
    return lines


def _paper_markdown(paper):
    lines = []
    lines += ["", "| paper shapes (32->128, 1.54 M params) | ours fp32 | ours bf16 | bf16 speed-up |",
              "|---|---|---|---|"]
    f32, b16 = paper["float32"], paper["bfloat16"]
    for key in ("generator_chunk_20_seconds", "select_per_image_seconds", "train_step_batch_16_seconds",
                "train_step_batch_16_recomputing_targets_seconds"):
        if key in f32:
            lines.append(f"| {key} | {f32[key]:.2f} | {b16[key]:.2f} | {f32[key] / b16[key]:.2f}x |")
        elif key in b16:
            lines.append(f"| {key} | - | {b16[key]:.2f} | - |")
    lines.append(f"\n{PEER_NOTE}")
    if f32.get("select_extrapolated_from"):
        lines.append(f"\n(selection measured with {f32['select_extrapolated_from']} and scaled to 100+100;"
                     f" training step measured at {f32['train_step_extrapolated_from']} and scaled to 16)")
    rounds = b16.get("train_step_rounds_seconds", {})
    if len(rounds.get("train_step_batch_16", [])) > 1:
        lines.append("\nbf16 batch-16 steps, all rounds (taking turns): " + "; ".join(
            f"{name}: {', '.join(f'{t:.2f}' for t in rounds[name])} s"
            for name in ("train_step_batch_16", "train_step_batch_16_recomputing_targets") if name in rounds))
    if "gradient_step_variants" in b16:
        lines += ["", "| gradient step, batch 16, paper shapes, mixed_bfloat16 | seconds |", "|---|---|"]
        lines += [f"| {name} | {seconds:.2f} |" for name, seconds in b16["gradient_step_variants"].items()]
    lines += ["", f"Achieved: generator {f32['generator_gflops']:.0f} GFLOP/s fp32 ({100 * f32['generator_share_of_conv_ceiling']:.0f}% of the conv ceiling),"
              f" {b16['generator_gflops']:.0f} bf16; VGG19 to conv4_4 {f32['vgg_gflops']:.0f} GFLOP/s ({100 * f32['vgg_share_of_conv_ceiling']:.0f}%)."]
    return lines


def steps(quick):
    repeats = 1 if quick else 5
    quick_config = config_from("configs/quickstart.cfg")
    m = 4 if quick else 20
    paper_config = config_from(None, batch_size=1, num_lower_samples=m, num_upper_samples=m, sample_chunk=m)
    rows = [step_breakdown("quickstart.cfg", quick_config, repeats),
            step_breakdown("paper architecture + VGG", paper_config, repeats),
            step_breakdown("paper architecture + VGG, bf16 selection",
                           paper_config.replace(selection_precision="bfloat16"), repeats)]
    if not quick:
        cpu_config = config_from("configs/cpu_x4.cfg", code_pool_size=0)
        rows += [step_breakdown("cpu_x4.cfg (no code reuse)", cpu_config, repeats),
                 step_breakdown("cpu_x4.cfg, bf16 selection",
                                cpu_config.replace(selection_precision="bfloat16"), repeats)]
    return rows


SECTIONS = {"ceilings": ceilings, "steps": steps, "paper": paper_shapes,
            "projections": projections, "data": data_pipeline, "inference": inference_speed.by_size,
            "inference_variants": inference_speed.variants}


def run_section(name, quick):
    """Runs one section in a fresh process: memory TF keeps (traced functions, oneDNN
    primitives, allocator pools) is returned between sections, and one section's leftovers
    cannot slow the next."""
    command = [sys.executable, os.path.abspath(__file__), "--section", name] + (["--quick"] if quick else [])
    out = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=ROOT, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--section", choices=sorted(SECTIONS), help=argparse.SUPPRESS)
    parser.add_argument("--sections", help="comma-separated sections to run (default: all): "
                        + ", ".join(SECTIONS) + "; the ceilings are always measured")
    parser.add_argument("--inference_probe", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe_precision", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inference_probe:
        inference_speed.probe(args.inference_probe, args.probe_precision)
        return
    chosen = ["ceilings"] + [name for name in (args.sections or "").split(",") if name and name != "ceilings"]
    if not args.sections:
        chosen = list(SECTIONS)
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.section:
        result = SECTIONS[args.section](args.quick)
        print(f"peak RSS of section {args.section}: {peak_rss_mb():.0f} MB", file=sys.stderr)
        print(json.dumps(result))
        return
    results = {"machine": f"{platform.node()}, {os.cpu_count()} CPUs, TF {tf.__version__}",
               "command": "python " + " ".join(["benchmarks/run.py"] + sys.argv[1:])}
    started = time.perf_counter()
    for name in chosen:
        # --quick stays in one process (about 4 GB): six TF start-ups would cost half a minute.
        results[name] = SECTIONS[name](args.quick) if args.quick else run_section(name, args.quick)
        if name == "paper":
            conv = results["ceilings"]["conv_gflops"]
            row = results["paper"]["float32"]
            row["generator_share_of_conv_ceiling"] = row["generator_gflops"] / conv
            row["vgg_share_of_conv_ceiling"] = row["vgg_gflops"] / conv
        results["seconds_so_far"] = round(time.perf_counter() - started, 1)
        with open(args.out + ".json", "w") as f:  # after every section: a stopped run keeps what it measured
            json.dump(results, f, indent=2)
        print(f"[{results['seconds_so_far']:.0f} s] {name} done", flush=True)
    table = markdown(results)
    with open(args.out + ".md", "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
