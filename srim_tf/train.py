"""train_and_evaluate(): the training loop, checkpoints, resume and TensorBoard.

Resuming: the same command finds the newest checkpoint in the workdir and continues to
the same total `train_steps`. Model, optimizer, step and the selection-noise counter are
restored exactly. The data stream restarts with a shuffle seeded by (seed, step), so a
resumed run is deterministic but does not replay the exact batches an uninterrupted run
would have seen: saving tf.data's shuffle buffers would add ~100 MB to every checkpoint.
With code reuse on, a resumed run chooses a fresh pool of codes.
"""

import dataclasses
import math
import os
import shutil
import time

import keras
import tensorflow as tf
from absl import logging
from tqdm import tqdm

from srim_tf import build, checkpoints, data, metrics, summaries
from srim_tf.resize import bicubic_upsample
from srim_tf.selection import CodePool


def _check_config(config):
    for key in ("train_steps", "checkpoint_every", "summary_every", "image_summary_every",
                "num_validation_images", "num_summary_samples", "keep_checkpoints"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"--{key} must be an integer >= 1. Received: --{key}={config[key]}")
    patch, lr_size = config.get("selection_patch", 0), config["hr_size"] // 4
    # conv4_4 features are at half the LR resolution: a patch must hold whole feature pixels.
    if patch and (lr_size % patch or patch % 2 and config["selection_conv4_4_weight"]):
        raise ValueError("--selection_patch must divide the LR patch size (--hr_size / 4) and be"
                         " even when conv4_4 features choose samples. Received:"
                         f" --selection_patch={patch} --hr_size={config['hr_size']}")
    try:
        [int(s) for s in config["lr_decay_steps"]]
    except ValueError as error:
        raise ValueError("--lr_decay_steps must be integers. Received:"
                         f" --lr_decay_steps={','.join(config['lr_decay_steps'])}") from error
    if config["code_pool_size"] and config["code_pool_size"] < config["batch_size"]:
        raise ValueError("--code_pool_size must be 0 (off) or at least --batch_size. Received:"
                         f" --code_pool_size={config['code_pool_size']} --batch_size={config['batch_size']}")
    if config["jit_compile"] and config["projection"] == "sparse":
        raise ValueError("XLA cannot compile sparse matmuls: use --projection=none or gaussian"
                         " with --jit_compile. Received: --projection=sparse --jit_compile")
    for kind in config["degradations"]:
        if kind not in data.DEGRADATIONS:
            raise ValueError(f"Unknown degradation. Expected some of {list(data.DEGRADATIONS)}."
                             f" Received: --degradations={kind}")


def make_strategy(name):
    """The tf.distribute strategy for `--strategy`."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and \
        "chief" not in resolver.cluster_spec().as_dict()


def prepare_workdir(workdir, config, restart):
    """Creates or checks the workdir; refuses to resume a different generator or precision.

    The config is compared only when a checkpoint exists: a first start that failed
    leaves a config.json but no model. It is written once the resume is accepted.
    """
    if not workdir:
        raise ValueError("--workdir is required: the directory for checkpoints and summaries.")
    if restart:
        for name in (checkpoints.CHECKPOINT_DIR, "train", "eval", checkpoints.CONFIG_FILE):
            path = os.path.join(workdir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"The workdir is not writable ({error.strerror}). Received: --workdir={workdir}") from error
    has_model = tf.train.get_checkpoint_state(os.path.join(workdir, checkpoints.CHECKPOINT_DIR))
    if has_model and os.path.isfile(os.path.join(workdir, checkpoints.CONFIG_FILE)):
        saved = checkpoints.read_config(workdir)
        difference = checkpoints.config_difference(saved, config)
        if saved.get("mixed_precision", "off") != config["mixed_precision"]:
            # Optimizer state differs (mixed_float16 adds loss scaling): restoring would fail.
            difference["mixed_precision"] = (saved.get("mixed_precision", "off"), config["mixed_precision"])
        if difference:
            lines = "\n".join(f"  --{k}: workdir has {old!r}, flags give {new!r}"
                              for k, (old, new) in difference.items())
            raise ValueError(f"The workdir {workdir} holds a model with a different configuration:\n"
                             f"{lines}\nUse the same flags to resume, --restart to start anew,"
                             " or another --workdir.")


def _data_seed(seed, step):
    return seed if step == 0 else (seed * 1_000_003 + step) % (2 ** 31 - 1)


def _make_train_function(model, strategy, jit_compile):
    """One distributed training step on the iterator's next batch; logs averaged over replicas.

    Keras' own `make_train_function` cannot reduce scalar logs under
    MultiWorkerMirroredStrategy (it asks for a mean over axis 0 of a scalar), so the
    replicas' results are reduced here.
    """
    step = tf.function(model.train_step, jit_compile=True) if jit_compile else model.train_step

    @tf.function
    def train_function(iterator):
        logs = strategy.run(step, args=(next(iterator),))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    return train_function


def _validate(model, validation, config, step, writer):
    """PSNR of the fixed validation images against bicubic, and an image grid."""
    lr, _, hr = validation
    k = config["num_summary_samples"]
    samples = model.super_resolve(lr, num_samples=k, seed=config["seed"], noise_scale=1.0)
    zero = model.super_resolve(lr, num_samples=1, seed=config["seed"], noise_scale=0.0)[:, 0]
    bicubic = bicubic_upsample(lr, 4)
    values = {
        "validation/y_psnr_zero_noise": metrics.y_psnr(zero, hr, border=4),
        "validation/y_psnr_mean_of_samples": tf.reduce_mean(tf.stack(
            [metrics.y_psnr(samples[:, i], hr, border=4) for i in range(k)]), axis=0),
        "validation/y_psnr_bicubic": metrics.y_psnr(bicubic, hr, border=4),
        "validation/lr_psnr_zero_noise": metrics.lr_psnr(zero, lr),
    }
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(name, float(tf.reduce_mean(value)))
        tf.summary.image("validation/lr_bicubic_samples_truth",
                         summaries.image_grid(lr, samples, hr), max_outputs=1)
    return {name: float(tf.reduce_mean(value)) for name, value in values.items()}


def _initialize_generator(generator, config):
    """Starts a new run from another model's generator weights (`--init_from`): fine-tuning."""
    source = config["init_from"]
    if source == "pretrained" or os.path.isfile(os.path.join(source, "generator.weights.h5")):
        from srim_tf import pretrained  # Only when asked for: it reads the package's files.

        directory = pretrained.PRETRAINED_DIR if source == "pretrained" else source
        trained, settings = pretrained.load_pretrained(directory), pretrained.settings(directory)
    else:
        trained, saved_config, _ = checkpoints.load_generator(source)
        settings = build.generator_settings(saved_config)
    difference = {key: (settings[key], value) for key, value in build.generator_settings(config).items()
                  if settings[key] != value}
    if difference:
        lines = ", ".join(f"--{k}: {old!r} there, {new!r} here" for k, (old, new) in difference.items())
        raise ValueError(f"--init_from={source} holds a generator with other settings ({lines})."
                         " Use its settings to fine-tune it.")
    generator.set_weights(trained.get_weights())
    logging.info("Initialised the generator from %s", source)


def train_and_evaluate(config, workdir):
    """Trains a SRIM model from a flat config (flag values) into `workdir`.

    Returns:
        The last logged metrics, as a dict of floats.
    """
    _check_config(config)
    strategy = make_strategy(config["strategy"])
    replicas = strategy.num_replicas_in_sync
    if config["batch_size"] % replicas:
        # Each replica seeds its inputs' codes by their global batch position: even splits only.
        raise ValueError(f"--batch_size must be divisible by the {replicas} replicas of"
                         f" --strategy={config['strategy']}. Received: --batch_size={config['batch_size']}")
    chief = _is_chief(strategy)
    if chief:
        prepare_workdir(workdir, config, config["restart"])
    if config["mixed_precision"] != "off":
        keras.mixed_precision.set_global_policy(config["mixed_precision"])

    with strategy.scope():
        model, vgg_source = build.srim(config)
        model.compile(optimizer=build.optimizer(config), jit_compile=config["jit_compile"])
        model.optimizer.build(model.generator.trainable_variables)
    checkpoint = tf.train.Checkpoint(generator=model.generator, optimizer=model.optimizer,
                                     selection_counter=model.selection_counter)
    checkpoint_dir = chief_dir = os.path.join(workdir, checkpoints.CHECKPOINT_DIR)
    if not chief:  # Every worker saves (collective ops), only the chief's copy is kept.
        checkpoint_dir = os.path.join(workdir, f"worker_tmp_{strategy.cluster_resolver.task_id}")
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir,
                                         max_to_keep=config["keep_checkpoints"])
    latest = checkpoints.newest_readable_checkpoint(chief_dir)  # Every worker resumes from the chief's.
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        logging.info("Resumed from %s", latest)
    elif config.get("init_from"):
        _initialize_generator(model.generator, config)
    if chief:
        checkpoints.remove_temporary_folders(chief_dir)
        checkpoints.write_config(workdir, config)
    step = int(model.optimizer.iterations.numpy())
    if step >= config["train_steps"]:
        logging.info("Already trained %d of %d steps: nothing to do.", step, config["train_steps"])
        return {}

    data_config = build.data_config(config)
    data_config.seed = _data_seed(config["seed"], step)
    reports = []
    dataset = data.make_dataset(data_config, reports)
    if config["validation_data"]:
        validation = data.validation_triples(
            dataclasses.replace(build.data_config(config), sources=config["validation_data"]),
            config["num_validation_images"])
    else:  # Images held out of the training sources.
        validation = data.validation_triples(build.data_config(config),
                                             config["num_validation_images"],
                                             reports[0] if reports else None)
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    pool = CodePool(model, strategy, iterator, config) if config["code_pool_size"] else None

    if chief:
        writer = tf.summary.create_file_writer(os.path.join(workdir, "train"))
        with writer.as_default(step=step):
            summaries.write_flags(config, vgg_source)
            for report in reports:
                tf.summary.text("data", report.details())
    else:
        writer = tf.summary.create_noop_writer()

    train_function = _make_train_function(model, strategy, config["jit_compile"])
    logs, window_start, window_steps = {}, time.perf_counter(), 0
    progress = tqdm(total=config["train_steps"], initial=step, unit="step", disable=not chief,
                    dynamic_ncols=True)
    refilled_at = None
    while step < config["train_steps"]:
        if pool is not None and refilled_at != step and (
                pool.iterator is None or step % config["code_reuse_steps"] == 0):
            with writer.as_default(step=step):
                for name, value in pool.refill(_data_seed(config["seed"], step)).items():
                    tf.summary.scalar(f"train/{name}", value)
            refilled_at = step
        logs = train_function(pool.iterator if pool is not None else iterator)
        loss = float(logs["loss"])
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"Loss became {loss} at step {step + 1}; stopping. The last good checkpoint is"
                f" {tf.train.latest_checkpoint(chief_dir)}. Try a lower --learning_rate.")
        # The step is the optimizer's: mixed_float16's loss scaling skips updates whose
        # gradients overflow, and then neither `iterations` nor the schedule advance.
        previous, step = step, int(model.optimizer.iterations.numpy())
        if step == previous:
            logging.info("Loss scaling skipped an update at step %d (gradients overflowed).", step)
            continue
        window_steps += 1
        progress.update(step - previous)
        progress.set_postfix(loss=f"{loss:.4g}", psnr=f"{float(logs['chosen_y_psnr']):.2f}")
        last = step == config["train_steps"]
        if step % config["summary_every"] == 0 or last:
            seconds = time.perf_counter() - window_start
            with writer.as_default(step=step):
                for name, value in logs.items():
                    tf.summary.scalar(f"train/{name}", float(value))
                tf.summary.scalar("train/learning_rate",
                                  float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
                tf.summary.scalar("train/steps_per_second", window_steps / max(seconds, 1e-9))
            for metric in model.metrics:
                metric.reset_state()
            window_start, window_steps = time.perf_counter(), 0
        if step % config["image_summary_every"] == 0 or last:
            logs = {**{k: float(v) for k, v in logs.items()},
                    **_validate(model, validation, config, step, writer)}
        if step % config["checkpoint_every"] == 0 or last:
            manager.save(checkpoint_number=step)
            writer.flush()
    progress.close()
    if not chief:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {k: float(v) for k, v in logs.items()}
