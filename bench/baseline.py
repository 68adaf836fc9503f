"""What the PyTorch baselines in bench/ share: their MLPs, their thread count and their
timing loop.

ppo_update.py and sac_update.py import it from beside themselves.
"""
import ctypes
import sys
import time

import torch
from torch import nn


def set_compute_threads(n):
    """Computes on `n` threads, as RoboFleet's SetComputeThreads does: torch.set_num_threads
    does not reach an OpenBLAS under torch, which keeps one thread per core of its own."""
    torch.set_num_threads(n)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(n)
    except (OSError, AttributeError):
        pass  # no OpenBLAS in this process: nothing else keeps threads


def mlp(inputs, hidden, outputs, activation):
    """Linear layers of the given widths with `activation` (a module class) between them."""
    layers, width = [], inputs
    for h in hidden:
        layers += [nn.Linear(width, h), activation()]
        width = h
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def serve_or_time(unit, seconds, serve):
    """Runs `unit` once to warm up. With `serve`, prints "ready", then runs one
    timed unit per line read from stdin, answering each with its seconds, and
    returns None at the end of input. Otherwise runs whole units for at least
    `seconds` (two at the least) and returns (units, elapsed seconds)."""
    unit()
    if serve:
        print("ready", flush=True)
        for _ in sys.stdin:
            start = time.perf_counter()
            unit()
            print(time.perf_counter() - start, flush=True)
        return None
    units, elapsed = 0, 0.0
    start = time.perf_counter()
    while elapsed < seconds or units < 2:
        unit()
        units += 1
        elapsed = time.perf_counter() - start
    return units, elapsed
