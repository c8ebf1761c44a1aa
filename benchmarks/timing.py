"""Timing a callable on a shared machine: median, best, and several by turns."""

import time

import numpy as np


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def best_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_times(fns, rounds):
    """Times each callable once per round, taking turns, so a slow spell of a shared
    machine hits all of them alike. Returns {name: [seconds per round]}."""
    for fn in fns.values():
        fn()  # trace and warm up
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times
