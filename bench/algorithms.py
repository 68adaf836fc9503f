#!/usr/bin/env python3
"""Return at a fixed env-step budget, and wall time, per task and algorithm.

Trains experiments/<task>.yaml (PPO) and experiments/<task>_<algo>.yaml for
every other algorithm, each for --steps env steps and each seed, then prints
one markdown table: the return (mean over the last 100 episodes when the run
ended) per seed and its mean, the wall time, and the mean return as a ratio
to PPO's on the same task, measured in the same invocation.

    bench/algorithms.py --tasks halfcheetah,hopper --algos ppo,appo,sac --seeds 1,2,3

Runs already finished under --out are read, not trained again, so an
interrupted benchmark resumes where it stopped.
"""
import argparse
import csv
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def experiment(task, algo):
    name = task if algo == "ppo" else f"{task}_{algo}"
    path = os.path.join(ROOT, "experiments", name + ".yaml")
    if not os.path.exists(path):
        sys.exit(f"bench/algorithms.py: no experiment file {path}; write one or drop '{algo}'")
    return path


def last_row(run_dir):
    """The metrics row the run ended with, or None when it did not finish."""
    metrics = os.path.join(run_dir, "metrics.csv")
    if not os.path.exists(os.path.join(run_dir, "policy.pt")) or not os.path.exists(metrics):
        return None
    with open(metrics) as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else None


def train(binary, task, algo, seed, steps, run_dir):
    row = last_row(run_dir)
    if row is not None:
        return row
    cmd = [binary, "train", experiment(task, algo), "--run-dir", run_dir,
           "--set", f"train.total_env_steps={steps}", "--set", f"seed={seed}"]
    print(f"[{time.strftime('%H:%M:%S')}] {task} {algo} seed {seed}", file=sys.stderr, flush=True)
    with open(run_dir + ".log", "w") as log:
        status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        sys.exit(f"bench/algorithms.py: {' '.join(cmd)} exited {status}; see {run_dir}.log")
    return last_row(run_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="halfcheetah,hopper")
    parser.add_argument("--algos", default="ppo,appo,sac")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "bench-algorithms"))
    parser.add_argument("--robofleet", default=os.path.join(ROOT, "build", "launcher", "robofleet"))
    args = parser.parse_args()
    tasks, algos = args.tasks.split(","), args.algos.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    if not os.access(args.robofleet, os.X_OK):
        sys.exit(f"bench/algorithms.py: {args.robofleet} is missing; build first (scripts/setup.sh)")
    for task in tasks:
        for algo in algos:
            experiment(task, algo)
    os.makedirs(args.out, exist_ok=True)

    results = {}
    for task in tasks:
        for algo in algos:
            for seed in seeds:
                run_dir = os.path.join(args.out, f"{task}-{algo}-s{seed}")
                row = train(args.robofleet, task, algo, seed, args.steps, run_dir)
                results[task, algo, seed] = (float(row["episode_return_mean"]), float(row["wall_s"]),
                                             int(float(row["env_steps"])))

    print(f"| task | algorithm | return at {args.steps / 1e6:g}M (mean) | per seed | "
          "wall time per seed | return vs ppo |")
    print("|---|---|---|---|---|---|")
    for task in tasks:
        means = {a: sum(results[task, a, s][0] for s in seeds) / len(seeds) for a in algos}
        for algo in algos:
            per_seed = ", ".join(f"{results[task, algo, s][0]:.0f}" for s in seeds)
            walls = ", ".join(f"{results[task, algo, s][1]:.0f} s" for s in seeds)
            ratio = (f"{means[algo] / means['ppo']:.2f}x" if "ppo" in means and means["ppo"] > 0
                     else "")
            print(f"| {task} | {algo} | {means[algo]:.0f} | {per_seed} | {walls} | {ratio} |")


if __name__ == "__main__":
    main()
