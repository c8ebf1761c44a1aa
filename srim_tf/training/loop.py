"""train_and_evaluate(): the training loop, checkpoints, resume and TensorBoard.

Resuming: the same command finds the newest checkpoint in the workdir and continues to
the same total `train_steps`. Model, optimizer, step and the selection-noise counter are
restored exactly. The data stream restarts with a shuffle seeded by (seed, step), so a
resumed run is deterministic but does not replay the exact batches an uninterrupted run
would have seen: saving tf.data's shuffle buffers would add ~100 MB to every checkpoint.
With code reuse on, a resumed run chooses a fresh pool of codes.

The run in named steps: check the settings, prepare the workdir, build the model, restore
or initialise it, make the inputs (training stream, validation images, code pool), open the
summaries, then step: refill the pool when due, train, write scalars, validate, checkpoint.
"""

import dataclasses
import math
import os
import shutil
import time

import keras
import tensorflow as tf
from absl import logging

from srim_tf.data import datasets
from srim_tf.data.resize import bicubic_upsample
from srim_tf.evaluation import metrics
from srim_tf.model import checkpoints
from srim_tf.model.loading import load_generator
from srim_tf.progress import bar as progress_bar
from srim_tf.settings import RunSettings
from srim_tf.training import build, summaries
from srim_tf.training.code_pool import CodePool
from srim_tf.training.distribution import is_chief, make_strategy
from srim_tf.training.workdir import prepare_workdir
from srim_tf.training.workdir_lock import WorkdirLock


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


def _initialize_generator(generator, source):
    """Starts a new run from another model's generator weights (`--init_from`): fine-tuning."""
    trained = load_generator(source)
    theirs, ours = trained.generator.settings.as_dict(), generator.settings.as_dict()
    difference = ", ".join(f"--{key}: {theirs[key]!r} there, {ours[key]!r} here"
                           for key in ours if theirs[key] != ours[key])
    if difference:
        raise ValueError(f"--init_from={source} holds a generator with other settings ({difference})."
                         " Use its settings to fine-tune it.")
    generator.set_weights(trained.generator.get_weights())
    logging.info("Initialised the generator from %s", trained.description)


@dataclasses.dataclass
class _Inputs:
    iterator: object  # distributed iterator of training batches
    validation: tuple  # (lr, mid, hr) of the fixed validation images
    reports: list  # data-source reports: skipped files, counts
    pool: object = None  # the CodePool, with code reuse


class _Run:
    """One call of `train_and_evaluate`: the steps of a run, each a method."""

    def __init__(self, settings, workdir):
        self.settings, self.workdir = settings, workdir
        self.strategy = make_strategy(settings.training.strategy)
        replicas, batch_size = self.strategy.num_replicas_in_sync, settings.data.batch_size
        if batch_size % replicas:
            # Each replica seeds its inputs' codes by their global batch position: even splits only.
            raise ValueError(f"--batch_size must be divisible by the {replicas} replicas of"
                             f" --strategy={settings.training.strategy}. Received: --batch_size={batch_size}")
        self.chief = is_chief(self.strategy)
        self.lock = None
        if self.chief:
            self.lock = WorkdirLock(workdir)  # before --restart deletes anything
        try:
            if self.chief:
                prepare_workdir(workdir, settings)
            with self.strategy.scope():
                self.model, self.vgg_source = build.srim(settings)
                self.model.compile(optimizer=build.optimizer(settings),
                                   jit_compile=settings.training.jit_compile)
                self.model.optimizer.build(self.model.generator.trainable_variables)
        except BaseException:  # A run that fails to start leaves the workdir free.
            if self.lock:
                self.lock.release()
            raise

    @property
    def step(self):
        # The optimizer's: mixed_float16's loss scaling skips updates whose gradients
        # overflow, and then neither `iterations` nor the schedule advance.
        return int(self.model.optimizer.iterations.numpy())

    def restore_or_initialize(self):
        """Resumes from the newest readable checkpoint, or starts (from `--init_from`)."""
        model, settings = self.model, self.settings.training
        checkpoint = tf.train.Checkpoint(generator=model.generator, optimizer=model.optimizer,
                                         selection_counter=model.selection_counter)
        self.chief_dir = os.path.join(self.workdir, checkpoints.CHECKPOINT_DIR)
        directory = self.chief_dir
        if not self.chief:  # Every worker saves (collective ops), only the chief's copy is kept.
            directory = os.path.join(self.workdir, f"worker_tmp_{self.strategy.cluster_resolver.task_id}")
        self.own_checkpoint_dir = directory
        if self.chief:
            checkpoints.set_aside_damaged_state(directory)
        self.manager = tf.train.CheckpointManager(checkpoint, directory,
                                                  max_to_keep=settings.keep_checkpoints)
        latest = checkpoints.newest_readable_checkpoint(self.chief_dir)  # Every worker resumes from the chief's.
        if latest:
            checkpoint.restore(checkpoints.readable_prefix(latest)).assert_existing_objects_matched()
            logging.info("Resumed from %s", latest)
        elif settings.init_from:
            _initialize_generator(model.generator, settings.init_from)
        if self.chief:
            checkpoints.remove_temporary_folders(self.chief_dir)
            checkpoints.write_config(self.workdir, self.settings.as_flat())

    def make_inputs(self):
        """The training stream (reseeded by the step), the validation images, the code pool."""
        settings, strategy = self.settings, self.strategy
        data, training = settings.data, settings.training
        held_out = 0 if training.validation_data else training.num_validation_images
        reports = []
        dataset = datasets.make_dataset(data, _data_seed(training.seed, self.step), held_out, reports)
        if training.validation_data:
            validation = datasets.validation_triples(
                dataclasses.replace(data, data=training.validation_data),
                training.num_validation_images)
        else:  # Images held out of the training sources.
            validation = datasets.validation_triples(data, training.num_validation_images, held_out,
                                                     reports[0] if reports else None)
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        pool = None
        imle = settings.imle
        if imle.code_pool_size:
            pool = CodePool(self.model, strategy, iterator, imle.code_pool_size,
                            settings.data.batch_size, imle.target_feature_cache_mb)
        return _Inputs(iterator, validation, reports, pool)

    def open_summaries(self, reports):
        """The chief's TensorBoard writer, with the flags and data reports written once."""
        if not self.chief:
            return tf.summary.create_noop_writer()
        writer = tf.summary.create_file_writer(os.path.join(self.workdir, "train"))
        with writer.as_default(step=self.step):
            summaries.write_flags(self.settings.as_flat(), self.vgg_source)
            for report in reports:
                tf.summary.text("data", report.details())
        return writer

    def refill_pool(self, pool, writer):
        """Chooses codes for a new pool ("a month") and logs its nearest distances."""
        step = self.step
        with writer.as_default(step=step):
            for name, value in pool.refill(_data_seed(self.settings.training.seed, step)).items():
                tf.summary.scalar(f"train/{name}", value)

    def write_scalars(self, writer, logs, steps_per_second):
        with writer.as_default(step=self.step):
            for name, value in logs.items():
                tf.summary.scalar(f"train/{name}", float(value))
            tf.summary.scalar("train/learning_rate",
                              float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
            tf.summary.scalar("train/steps_per_second", steps_per_second)
        for metric in self.model.metrics:
            metric.reset_state()

    def validate(self, validation, writer):
        """PSNR of the fixed validation images against bicubic, and an image grid."""
        training = self.settings.training
        model, seed, k = self.model, training.seed, training.num_summary_samples
        lr, _, hr = validation
        samples = model.super_resolve(lr, num_samples=k, seed=seed, noise_scale=1.0)
        zero = model.super_resolve(lr, num_samples=1, seed=seed, noise_scale=0.0)[:, 0]
        bicubic = bicubic_upsample(lr, 4)
        values = {
            "validation/y_psnr_zero_noise": metrics.y_psnr(zero, hr, border=4),
            "validation/y_psnr_mean_of_samples": tf.reduce_mean(tf.stack(
                [metrics.y_psnr(samples[:, i], hr, border=4) for i in range(k)]), axis=0),
            "validation/y_psnr_bicubic": metrics.y_psnr(bicubic, hr, border=4),
            "validation/lr_psnr_zero_noise": metrics.lr_psnr(zero, lr),
        }
        with writer.as_default(step=self.step):
            for name, value in values.items():
                tf.summary.scalar(name, float(tf.reduce_mean(value)))
            tf.summary.image("validation/lr_bicubic_samples_truth",
                             summaries.image_grid(lr, samples, hr), max_outputs=1)
        return {name: float(tf.reduce_mean(value)) for name, value in values.items()}

    def train(self, inputs, writer):
        """Steps to `--train_steps`; returns the last logged metrics."""
        settings, pool = self.settings.training, inputs.pool
        code_reuse_steps = self.settings.imle.code_reuse_steps
        train_function = _make_train_function(self.model, self.strategy, settings.jit_compile)
        logs, window_start, window_steps = {}, time.perf_counter(), 0
        step = self.step
        progress = progress_bar(total=settings.train_steps, initial=step, unit="step",
                                disable=not self.chief)
        refilled_at, gone_before = None, 0
        while step < settings.train_steps:
            if pool is not None and refilled_at != step and (
                    pool.iterator is None or step % code_reuse_steps == 0):
                self.refill_pool(pool, writer)
                refilled_at = step
            try:
                logs = train_function(pool.iterator if pool is not None else inputs.iterator)
            except (tf.errors.OutOfRangeError, StopIteration):
                raise ValueError(
                    f"The training data ran out at step {step + 1}: a whole pass over"
                    f" --data={self.settings.data.data} read no image (files deleted or changed since"
                    f" the start?). The last checkpoint is {tf.train.latest_checkpoint(self.chief_dir)}.") from None
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"Loss became {loss} at step {step + 1}; stopping. The last good checkpoint is"
                    f" {tf.train.latest_checkpoint(self.chief_dir)}. Try a lower --learning_rate.")
            previous, step = step, self.step
            if step == previous:
                logging.info("Loss scaling skipped an update at step %d (gradients overflowed).", step)
                continue
            window_steps += 1
            progress.set_postfix(loss=f"{loss:.4g}", psnr=f"{float(logs['chosen_y_psnr']):.2f}")
            progress.update(step - previous)  # after: a log line carries this step's values
            last = step == settings.train_steps
            if step % settings.summary_every == 0 or last:
                seconds = time.perf_counter() - window_start
                self.write_scalars(writer, logs, window_steps / max(seconds, 1e-9))
                window_start, window_steps = time.perf_counter(), 0
            if step % settings.image_summary_every == 0 or last:
                logs = {**{k: float(v) for k, v in logs.items()},
                        **self.validate(inputs.validation, writer)}
            if step % settings.checkpoint_every == 0 or last:
                self.manager.save(checkpoint_number=step)
                writer.flush()
                gone_before = _warn_of_gone_files(inputs.reports, gone_before)
        progress.close()
        return {k: float(v) for k, v in logs.items()}


def _warn_of_gone_files(reports, gone_before):
    """Warns when more of the scanned files can no longer be read than at the last check;
    training goes on with the others (the stream ends when none is left). Returns the count."""
    gone = [path for report in reports for path in report.gone()]
    if len(gone) > gone_before:
        scanned = sum(len(report.usable) for report in reports)
        logging.warning("%d of the %d image files scanned at the start can no longer be read (e.g. %s);"
                        " training goes on with the others.", len(gone), scanned, gone[0])
    return len(gone)


def train_and_evaluate(settings, workdir):
    """Trains a SRIM model into `workdir`.

    Args:
        settings: a `RunSettings`.
        workdir: where checkpoints, summaries and config.json go.

    Returns:
        The last logged metrics, as a dict of floats ({} when already trained).
    """
    if not isinstance(settings, RunSettings):
        raise TypeError(f"settings must be a RunSettings. Received: {type(settings).__name__}")
    run = _Run(settings, workdir)
    try:
        run.restore_or_initialize()
        if run.step >= settings.training.train_steps:
            logging.info("Already trained %d of %d steps: nothing to do.", run.step,
                         settings.training.train_steps)
            return {}
        inputs = run.make_inputs()
        writer = run.open_summaries(inputs.reports)
        logs = run.train(inputs, writer)
        if not run.chief:
            shutil.rmtree(run.own_checkpoint_dir, ignore_errors=True)
        return logs
    finally:
        if run.lock:
            run.lock.release()
