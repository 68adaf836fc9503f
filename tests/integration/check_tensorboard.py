#!/usr/bin/env python3
"""Reads RUN_DIR/tb with TensorBoard's own event reader and checks it against
RUN_DIR/metrics.csv: every column a scalar tag, at the same env steps, with the
same values (float32). Also checks the config text. Exits non-zero, saying
what differs, on any mismatch."""
import csv
import math
import sys

from tensorboard.backend.event_processing import event_accumulator as ea


def main(run_dir):
    acc = ea.EventAccumulator(run_dir + "/tb", size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    with open(run_dir + "/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in rows[0].keys() if c != "env_steps"]
    tags = set(acc.Tags()["scalars"])
    problems = []
    for column in columns:
        if column not in tags:
            problems.append(f"no scalar tag {column}")
            continue
        events = {e.step: e.value for e in acc.Scalars(column)}
        for row in rows:
            if row[column] == "":
                continue
            step, want = int(row["env_steps"]), float(row[column])
            got = events.get(step)
            if got is None or not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6):
                problems.append(f"{column} at step {step}: tensorboard {got}, csv {want}")
    config = acc.Tensors("config")[0].tensor_proto.string_val[0].decode()
    with open(run_dir + "/config.yaml") as f:
        if f.read() not in config:
            problems.append("config text differs from config.yaml")
    for p in problems[:20]:
        print(p, file=sys.stderr)
    print(f"{len(columns)} scalar tags over {len(rows)} steps, config text; "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
