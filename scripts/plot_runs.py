#!/usr/bin/env python3
"""Learning curves of RoboFleet runs: mean episode return against env steps and
against wall time, to PNG.

    plot_runs.py RUN_DIR [RUN_DIR ...] [-o curves.png] [--metric episode_return_mean]
    plot_runs.py SWEEP_DIR -o sweep.png

A directory with a metrics.csv is one run. A directory whose subdirectories
hold runs is a sweep: runs with the same config apart from the seed are drawn
as one curve, their mean with the spread (min to max) shaded.
"""
import argparse
import csv
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_metrics(run_dir, metric):
    steps, wall, values = [], [], []
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if row.get(metric, "") == "":
                continue
            steps.append(float(row["env_steps"]))
            wall.append(float(row["wall_s"]))
            values.append(float(row[metric]))
    return np.array(steps), np.array(wall), np.array(values)


def config_without_seed(run_dir):
    """The resolved config text minus the seed line: runs equal here differ only by seed."""
    path = os.path.join(run_dir, "config.yaml")
    if not os.path.exists(path):
        return os.path.basename(run_dir)
    with open(path) as f:
        return re.sub(r"(?m)^seed: .*$", "", f.read())


def label_of(run_dir):
    path = os.path.join(run_dir, "config.yaml")
    if os.path.exists(path):
        with open(path) as f:
            m = re.search(r'(?m)^name: "?([^"\n]*)"?$', f.read())
            if m:
                return m.group(1)
    return os.path.basename(os.path.normpath(run_dir))


def find_runs(paths):
    runs = []
    for p in paths:
        if os.path.exists(os.path.join(p, "metrics.csv")):
            runs.append(p)
            continue
        if not os.path.isdir(p):
            sys.exit(f"plot_runs.py: {p}: not a run or sweep directory")
        inner = sorted(os.path.join(p, d) for d in os.listdir(p)
                       if os.path.exists(os.path.join(p, d, "metrics.csv")))
        if not inner:
            sys.exit(f"plot_runs.py: {p}: no metrics.csv in it or its subdirectories")
        runs.extend(inner)
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="run or sweep directories")
    parser.add_argument("-o", "--out", default="curves.png", help="output PNG")
    parser.add_argument("--metric", default="episode_return_mean", help="metrics.csv column")
    args = parser.parse_args()

    # group runs that differ only by seed
    groups = {}
    for run in find_runs(args.paths):
        groups.setdefault(config_without_seed(run), []).append(run)

    fig, (by_steps, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    for runs in groups.values():
        curves = [read_metrics(r, args.metric) for r in runs]
        curves = [c for c in curves if len(c[0])]
        if not curves:
            continue
        label = label_of(runs[0]) + (f" ({len(curves)} seeds)" if len(curves) > 1 else "")
        for axis, x_index in ((by_steps, 0), (by_time, 1)):
            if len(curves) == 1:
                axis.plot(curves[0][x_index], curves[0][2], label=label)
                continue
            # a common grid up to where every run has data
            end = min(c[x_index][-1] for c in curves)
            grid = np.linspace(0, end, 200)
            ys = np.array([np.interp(grid, c[x_index], c[2]) for c in curves])
            line, = axis.plot(grid, ys.mean(axis=0), label=label)
            axis.fill_between(grid, ys.min(axis=0), ys.max(axis=0), alpha=0.2,
                              color=line.get_color())
    by_steps.set_xlabel("env steps")
    by_time.set_xlabel("wall time (s)")
    for axis in (by_steps, by_time):
        axis.set_ylabel(args.metric.replace("_", " "))
        axis.grid(alpha=0.3)
    by_steps.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"plot_runs.py: {len(groups)} curve(s) -> {args.out}")


if __name__ == "__main__":
    main()
