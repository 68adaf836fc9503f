#!/usr/bin/env python3
"""Return at a fixed env-step budget, and wall time, per task and algorithm.

Trains experiments/<task>.yaml (PPO) and experiments/<task>_<algo>.yaml for
every other algorithm, each for --steps env steps and each seed, then prints
one markdown table: the training return (mean over the last 100 episodes
when the run ended, played by the actors' stochastic policies), the eval
return (`robofleet eval` of the exported policy: --eval-episodes episodes of
its deterministic action), the wall time per seed, and the mean eval return
as a ratio to PPO's on the same task, measured in the same invocation.

    bench/algorithms.py --tasks halfcheetah,hopper --algos ppo,appo,sac --seeds 1,2,3
    bench/algorithms.py --algos ppo,sac --set sac:algorithm.utd_ratio=0.25

--set ALGO:KEY=VALUE overrides one experiment key for that algorithm's runs
(repeatable); the override is part of the run's folder name, so runs with
other settings are not mistaken for it.

Runs already finished under --out are read, not trained again, so an
interrupted benchmark resumes where it stopped.
"""
import argparse
import csv
import json
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


def parse_overrides(items):
    """{algo: [KEY=VALUE, ...]} from --set ALGO:KEY=VALUE arguments."""
    overrides = {}
    for item in items:
        algo, sep, assignment = item.partition(":")
        if not sep or "=" not in assignment:
            sys.exit(f"bench/algorithms.py: --set {item!r} is not ALGO:KEY=VALUE; "
                     "write it like sac:algorithm.utd_ratio=0.25")
        overrides.setdefault(algo, []).append(assignment)
    return overrides


def run_name(task, algo, seed, assignments):
    """The run's folder name: task, algorithm, each override's last key part and value, seed."""
    tags = [a.split("=", 1)[0].rsplit(".", 1)[-1] + a.split("=", 1)[1] for a in assignments]
    return "-".join([task, algo] + tags + [f"s{seed}"])


def train(binary, task, algo, seed, steps, assignments, run_dir):
    row = last_row(run_dir)
    if row is not None:
        return row
    cmd = [binary, "train", experiment(task, algo), "--run-dir", run_dir,
           "--set", f"train.total_env_steps={steps}", "--set", f"seed={seed}"]
    for assignment in assignments:
        cmd += ["--set", assignment]
    print(f"[{time.strftime('%H:%M:%S')}] {task} {algo} seed {seed}", file=sys.stderr, flush=True)
    with open(run_dir + ".log", "w") as log:
        status = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if status != 0:
        sys.exit(f"bench/algorithms.py: {' '.join(cmd)} exited {status}; see {run_dir}.log")
    return last_row(run_dir)


def evaluate(binary, run_dir, episodes):
    """The exported policy's mean return over deterministic episodes, kept beside the run."""
    path = f"{run_dir}.eval{episodes}.json"
    if not os.path.exists(path):
        cmd = [binary, "eval", os.path.join(run_dir, "policy.pt"), "--episodes", str(episodes),
               "--json"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench/algorithms.py: {' '.join(cmd)} exited {result.returncode}: "
                     f"{result.stderr.strip()}")
        with open(path, "w") as f:
            f.write(result.stdout)
    with open(path) as f:
        return json.load(f)["return_mean"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="halfcheetah,hopper")
    parser.add_argument("--algos", default="ppo,appo,sac")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "bench-algorithms"))
    parser.add_argument("--robofleet", default=os.path.join(ROOT, "build", "launcher", "robofleet"))
    parser.add_argument("--set", action="append", default=[], metavar="ALGO:KEY=VALUE",
                        help="override an experiment key for one algorithm's runs")
    args = parser.parse_args()
    tasks, algos = args.tasks.split(","), args.algos.split(",")
    overrides = parse_overrides(args.set)
    for algo in overrides:
        if algo not in algos:
            sys.exit(f"bench/algorithms.py: --set names '{algo}', which is not in --algos {args.algos}")
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
                assignments = overrides.get(algo, [])
                run_dir = os.path.join(args.out, run_name(task, algo, seed, assignments))
                row = train(args.robofleet, task, algo, seed, args.steps, assignments, run_dir)
                results[task, algo, seed] = (float(row["episode_return_mean"]),
                                             evaluate(args.robofleet, run_dir, args.eval_episodes),
                                             float(row["wall_s"]))

    print(f"| task | algorithm | train return at {args.steps / 1e6:g}M | eval return (mean) | "
          "eval per seed | wall time per seed | eval vs ppo |")
    print("|---|---|---|---|---|---|---|")
    for task in tasks:
        means = {a: [sum(results[task, a, s][i] for s in seeds) / len(seeds) for i in (0, 1)]
                 for a in algos}
        for algo in algos:
            per_seed = ", ".join(f"{results[task, algo, s][1]:.0f}" for s in seeds)
            walls = ", ".join(f"{results[task, algo, s][2]:.0f} s" for s in seeds)
            ratio = (f"{means[algo][1] / means['ppo'][1]:.2f}x"
                     if "ppo" in means and means["ppo"][1] > 0 else "")
            label = " ".join([algo] + overrides.get(algo, []))
            print(f"| {task} | {label} | {means[algo][0]:.0f} | {means[algo][1]:.0f} | "
                  f"{per_seed} | {walls} | {ratio} |")

if __name__ == "__main__":
    main()
