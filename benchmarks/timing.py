"""Measuring on a shared machine: time (median, best, several by turns) and peak memory."""

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


def interleaved_times(fns, rounds, warmup=True):
    """Times each callable once per round, taking turns, so a slow spell of a shared
    machine hits all of them alike. Returns {name: [seconds per round]}. `warmup=False`
    when the caller has already called each once (to trace it, or to check its output)."""
    for fn in fns.values() if warmup else ():
        fn()  # trace and warm up
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def peak_rss_mb():
    """This process's peak resident memory so far, in MB (VmHWM)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
