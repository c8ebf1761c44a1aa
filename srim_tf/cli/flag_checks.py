"""absl flag validators: a bad value fails at parse time with a line naming what is accepted."""

import math

from absl import flags

from srim_tf.checks import MAX_NOISE_SCALE


def at_least(name, minimum):
    """Integer flag `name` must be >= `minimum` (None allowed: the flag's 'unset')."""
    flags.register_validator(
        name, lambda value: value is None or value >= minimum,
        message=f"must be an integer >= {minimum}")


def positive_finite(name):
    flags.register_validator(
        name, lambda value: value is not None and math.isfinite(value) and value > 0,
        message="must be a finite number > 0")


def non_negative_finite(name):
    flags.register_validator(
        name, lambda value: value is not None and math.isfinite(value) and value >= 0,
        message="must be a finite number >= 0")


def noise_scale(name="noise_scale"):
    flags.register_validator(
        name, lambda value: value is not None and math.isfinite(value) and 0 <= value <= MAX_NOISE_SCALE,
        message=f"must be a finite number in [0, {MAX_NOISE_SCALE:g}] (1: the training distribution)")


def integer_list(name):
    def check(values):
        try:
            [int(value) for value in values]
        except ValueError:
            return False
        return True

    flags.register_validator(name, check, message="must be a comma-separated list of integers")
