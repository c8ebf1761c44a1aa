"""tf.distribute, mixed precision and XLA through the training loop: each trains what float32
on one device trains, mirrored matches one device, and the README's multi-worker command runs
as two workers on localhost."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from srim_tf.training import build, code_pool
from tests.helpers import ROOT, TINY_TRAIN_FLAGS, checkpoint_step, readme_code_lines, tiny_config


def _train(tmp_path, name, **overrides):
    """`(logs, weights)` of 3 steps through srim_train's loop."""
    from srim_tf.model.loading import load_generator
    from srim_tf.training.loop import train_and_evaluate

    workdir = str(tmp_path / name)
    logs = train_and_evaluate(tiny_config(train_steps=3, checkpoint_every=3, image_summary_every=3,
                                          learning_rate=1e-3, **overrides), workdir)
    return logs, [np.asarray(w) for w in load_generator(workdir).generator.get_weights()]


@pytest.mark.slow
def test_mixed_precision_and_xla_train_what_float32_trains_and_leave_keras_alone(tmp_path):
    import keras

    def distance(a, b):
        return np.sqrt(sum(np.sum((x - y) ** 2) for x, y in zip(a, b, strict=True)))

    initial = [np.asarray(w) for w in build.srim(tiny_config())[0].generator.get_weights()]
    reference_logs, reference = _train(tmp_path, "float32")
    moved = distance(reference, initial)
    for name, overrides in (("xla", dict(jit_compile=True)),
                            ("bf16", dict(mixed_precision="mixed_bfloat16")),
                            ("fp16", dict(mixed_precision="mixed_float16"))):
        logs, weights = _train(tmp_path, name, **overrides)
        # The same step: the same loss and validation PSNR, and weights that moved as far and
        # mostly the same way (selection's near-ties and Adam's sign-like first steps make
        # rounding differences visible, so not to float rounding).
        assert logs["loss"] == pytest.approx(reference_logs["loss"], rel=0.01), name
        assert abs(logs["validation/y_psnr_zero_noise"]
                   - reference_logs["validation/y_psnr_zero_noise"]) < 0.05, name
        assert distance(weights, initial) == pytest.approx(moved, rel=0.1), name
        assert distance(weights, reference) < 0.6 * moved, name
        # The library never sets Keras' global policy: a model built next computes in float32.
        assert keras.mixed_precision.global_policy().name == "float32", name
        assert build.generator(tiny_config()).lower.get_layer("lower_conv_0").compute_dtype == "float32"


def test_the_photo_recipe_trains_alike_in_float32_and_bfloat16_through_the_loop(tmp_path):
    # configs/cpu_x4_photos.cfg's terms: degraded LR, the LR loss against the clean LR,
    # rejection, no z = 0 anchor, and codes reused from a pool.
    recipe = dict(degradations=("blur", "jpeg", "noise"), lr_loss_weight=50.0, rejection_ratio=0.1,
                  zero_code_loss_weight=0.0, code_pool_size=4, code_reuse_steps=2)
    reference_logs, reference = _train(tmp_path, "float32", **recipe)
    logs, weights = _train(tmp_path, "bf16", mixed_precision="mixed_bfloat16", **recipe)
    assert np.isfinite(reference_logs["loss"]) and reference_logs["loss"] > 0
    assert logs["loss"] == pytest.approx(reference_logs["loss"], rel=0.02)
    assert all(np.isfinite(w).all() for w in weights)


def test_mixed_float16_wraps_the_optimizer_in_loss_scaling():
    import keras

    config = tiny_config(mixed_precision="mixed_float16")
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.generator.lower.get_layer("lower_conv_1").compute_dtype == "float16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_mixed_bfloat16_computes_in_bfloat16_against_exact_float32_targets(triple):
    config = tiny_config(mid_loss_weight=1.0, mixed_precision="mixed_bfloat16")  # 2x target too
    model, _ = build.srim(config)
    model.compile(optimizer=build.optimizer(config))
    seen = {}
    loss = model.step_loss

    def recording(lr, mid, hr, *args, **kwargs):
        seen.update(lr=lr, mid=mid, hr=hr)
        return loss(lr, mid, hr, *args, **kwargs)

    model.step_loss = recording
    model.train_step(triple)
    lr, mid, hr = triple
    assert seen["lr"].dtype == tf.bfloat16  # the generator's input takes the compute dtype
    for name, target in (("mid", mid), ("hr", hr)):
        assert seen[name].dtype == tf.float32, name
        np.testing.assert_array_equal(seen[name].numpy(), target)  # not rounded to bf16
    assert np.abs(hr - hr.astype(tf.bfloat16.as_numpy_dtype).astype("float32")).max() > 1e-4


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _readme_multi_worker_command():
    """README.md's multi-worker command, as written, and its TF_CONFIG's text."""
    import re

    commands = [line for line in readme_code_lines() if line.startswith("TF_CONFIG=")]
    assert len(commands) == 1, commands
    tf_config = re.match(r"TF_CONFIG='([^']*)' ", commands[0])
    assert tf_config, commands[0]
    assert "--flagfile=configs/paper_x4.cfg" in commands[0] and "--strategy=multi_worker" in commands[0]
    return commands[0], tf_config.group(1)


def _train_two_workers(workdir, steps, *flags):
    """Runs README.md's multi-worker command on two localhost processes, flags appended."""
    import json
    import os
    import shlex

    command, readme_tf_config = _readme_multi_worker_command()
    # The README's TF_CONFIG layout, with this test's addresses.
    layout = json.loads(readme_tf_config)
    assert len(layout["cluster"]["worker"]) == 2, layout
    assert layout["task"] == {"type": "worker", "index": 0}, layout
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    # Appended: the paper's settings at test size (tiny images and model, random VGG
    # weights; conv2_2 in the loss, so the pool caches VGG features), a pool of 12 images
    # reused for 2 steps, and the test's workdir.
    overrides = [*TINY_TRAIN_FLAGS, "--batch_size=4", f"--train_steps={steps}", "--checkpoint_every=2",
                 "--summary_every=2", "--image_summary_every=100", "--code_pool_size=12",
                 "--code_reuse_steps=2", "--loss_conv2_2_weight=1", "--target_feature_cache_mb=1",
                 f"--workdir={workdir}", *flags]
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        line = command.replace(readme_tf_config, tf_config, 1)
        workers.append(subprocess.Popen(
            ["bash", "-c", " ".join([line, *map(shlex.quote, overrides)])], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=600) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
    return [err for _, err in outputs]


@pytest.mark.slow
def test_readme_multi_worker_command_with_code_reuse_trains_and_only_the_chief_writes(tmp_path):
    """README.md's `paper_x4.cfg` multi-worker command, at test size: two workers train past
    a pool refill, each caching its own half of the pool's features, only the chief writes,
    and both resume."""
    import glob
    import os

    workdir = str(tmp_path / "cluster")
    # Pools chosen at steps 0 and 2: both workers train past a refill.
    logs = _train_two_workers(workdir, 3)
    assert checkpoint_step(workdir) == 3
    # No worker copies.
    assert sorted(os.listdir(workdir)) == [".srim_train.lock", "checkpoints", "config.json", "train"]
    assert len(glob.glob(os.path.join(workdir, "train", "events.*"))) == 1  # the chief's alone
    # 12 images of conv2_2 + pixels are 1.7 MB; each worker's 6 fit in --target_feature_cache_mb=1.
    for log in logs:
        assert log.count("Caching the target features of this worker's 6 pool images") == 2, log[-3000:]
    # Both workers resume from the chief's checkpoint (else their collectives would not match).
    logs = _train_two_workers(workdir, 4)
    assert checkpoint_step(workdir) == 4
    assert all("Resumed from" in log and "ckpt-3" in log for log in logs)


def test_each_worker_budgets_only_its_own_share_of_the_feature_cache():
    # The paper's pool (640 images, batch 16) on 1, 2 and 4 workers with one replica each.
    batch_features = {"pixels": np.zeros((4, 128, 128, 3), np.float32),
                      "conv2_2": np.zeros((4, 64, 64, 128), np.float32)}
    per_image = (128 * 128 * 3 + 64 * 64 * 128) * 4
    for workers, expected_rows in ((1, 640), (2, 320), (4, 160)):
        rows = code_pool.worker_pool_size(640, 16 // workers, 16)
        assert rows == expected_rows
        assert code_pool.pool_feature_bytes(batch_features, rows) == per_image * expected_rows
    # A worker keeps whole images: its share of an uneven pool rounds up.
    assert code_pool.worker_pool_size(10, 2, 4) == 5
    assert code_pool.worker_pool_size(9, 2, 4) == 5


LOOP_SCRIPT = textwrap.dedent("""
    import sys, threading, numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from srim_tf.training import build
    from srim_tf.training import imle
    from srim_tf.model import layers
    from srim_tf.training import selection
    from srim_tf.training import loop as train
    from tests.helpers import tiny_config

    workdir = sys.argv[1]
    built, seen, part = [], [], threading.local()
    make_model, make_optimizer = build.srim, build.optimizer
    build.srim = lambda config: built.append(make_model(config)) or built[-1]

    # What every hidden convolution computes in, by replica, in the gradient step or not.
    conv_call = layers.WeightNormConv2D.call
    def recording_call(self, inputs, *args, **kwargs):
        replica = tf.distribute.get_replica_context()
        rid = tf.get_static_value(replica.replica_id_in_sync_group) if replica else 0
        seen.append((int(rid), getattr(part, "name", "other"), inputs[0].dtype.name
                     if isinstance(inputs, (list, tuple)) else inputs.dtype.name))
        return conv_call(self, inputs, *args, **kwargs)
    layers.WeightNormConv2D.call = recording_call
    def tagged(function, name):
        def run(*args, **kwargs):
            part.name = name
            try:
                return function(*args, **kwargs)
            finally:
                part.name = "other"
        return run
    imle.SRIM.step_loss = tagged(imle.SRIM.step_loss, "step")
    selection.select = tagged(selection.select, "selection")

    def weights(run):
        return [v.numpy() for v in built[-1][0].generator.weights]

    # 1. bf16 selection under mirrored.
    train.train_and_evaluate(tiny_config(strategy="mirrored", selection_precision="bfloat16",
                                         batch_size=4, train_steps=2), workdir + "/bf16")
    policies = {l.dtype_policy.name for m in (built[-1][0].generator.lower, built[-1][0].generator.upper)
                for l in m.layers}
    step_dtypes = {d for _, name, d in seen if name == "step"}
    selected = {(r, d) for r, name, d in seen if name == "selection"}
    print("POLICIES", sorted(policies), "STEP", sorted(step_dtypes), "SELECTION", sorted(selected))

    try:  # A global batch that does not split evenly over the replicas is refused.
        train.train_and_evaluate(tiny_config(strategy="mirrored", batch_size=3), workdir + "/odd")
    except ValueError as error:
        print("ODD", error)

    # 2. mirrored vs one device: the same update, fresh selection, code reuse and codes
    # chosen per 2x2-LR-pixel patch.
    build.optimizer = lambda config: keras.optimizers.SGD(1e-1)
    for name, extra in (("fresh", {}), ("reuse", dict(code_pool_size=4, code_reuse_steps=2)),
                        ("patch", dict(selection_patch=2))):
        config = tiny_config(batch_size=4, train_steps=3, checkpoint_every=3, **extra)
        results = []
        for strategy in ("default", "mirrored"):
            train.train_and_evaluate(config.replace(strategy=strategy), f"{workdir}/{name}_{strategy}")
            model = built[-1][0]
            assert model.imle.selection_patch == extra.get("selection_patch", 0)
            assert model.distribute_strategy.num_replicas_in_sync == (2 if strategy == "mirrored" else 1)
            results.append(weights(built[-1]))
        initial = [v.numpy() for v in make_model(config)[0].generator.weights]
        gap = max(float(np.abs(a - b).max()) for a, b in zip(*results))
        moved = max(float(np.abs(a - b).max()) for a, b in zip(initial, results[0]))
        print("SAME", name, gap, moved)
""")


@pytest.mark.slow
def test_mirrored_training_loop_on_two_cpus(tmp_path):
    """srim_train's loop under MirroredStrategy: bf16 selection leaves the policies and the
    float32 gradient step alone, and fresh selection, code reuse and per-patch selection
    train what one device trains. In a new process: two logical CPUs must be configured
    before TensorFlow initialises its devices."""
    result = subprocess.run([sys.executable, "-c", LOOP_SCRIPT, str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    print(out)
    assert "ODD --batch_size must be divisible by the 2 replicas of --strategy=mirrored." \
        " Received: --batch_size=3" in out
    policies = next(line for line in out.splitlines() if line.startswith("POLICIES"))
    assert policies == ("POLICIES ['float32'] STEP ['float32'] SELECTION"
                        " [(0, 'bfloat16'), (1, 'bfloat16')]")
    same = [line for line in out.splitlines() if line.startswith("SAME")]
    assert [line.split()[1] for line in same] == ["fresh", "reuse", "patch"], out
    for line in same:
        _, name, gap, moved = line.split()
        assert float(moved) > 1e-4, line  # training did change the weights
        assert float(gap) < 1e-4 * float(moved), line


@pytest.mark.slow
def test_mixed_float16_skipped_steps_keep_step_checkpoint_and_schedule_together(
        tmp_path, monkeypatch):
    import keras

    from srim_tf.training import loop as train

    optimizers = []
    make = build.optimizer

    def huge_loss_scale(config):
        # Scaled gradients overflow float16 at first: the first updates are skipped.
        optimizers.append(keras.optimizers.LossScaleOptimizer(make(config), initial_scale=2.0 ** 40))
        return optimizers[-1]

    monkeypatch.setattr(build, "optimizer", huge_loss_scale)
    workdir = str(tmp_path / "run")
    config = tiny_config(mixed_precision="mixed_float16", train_steps=3, checkpoint_every=3,
                         lr_decay_steps=[2], learning_rate=1e-3, lr_decay_factor=0.5)
    train.train_and_evaluate(config, workdir)
    first = optimizers[-1]
    assert float(first.dynamic_scale.numpy()) < 2.0 ** 40  # some updates were skipped
    assert int(first.iterations.numpy()) == 3
    assert tf.train.latest_checkpoint(f"{workdir}/checkpoints").endswith("ckpt-3")
    assert float(first.learning_rate.numpy()) == pytest.approx(5e-4)  # decayed at 2
    train.train_and_evaluate(config.replace(train_steps=4), workdir)
    assert int(optimizers[-1].iterations.numpy()) == 4  # resumed and stopped at 4
    assert tf.train.latest_checkpoint(f"{workdir}/checkpoints").endswith("ckpt-4")
