#!/usr/bin/env python3
"""Runs an exported RoboFleet policy from Python with torch alone.

    python3 examples/deploy_python.py POLICY.pt

Loads the TorchScript file, checks its metadata, and runs every method once on
a batch of observations; a policy with memory (metadata "state_dim" > 0) takes
its state and gives the next one, and reset()/act() run either kind. Prints one line per method and exits non-zero when
something does not add up.
"""
import json
import sys

import torch


def main(path: str) -> int:
    extra = {"metadata.json": ""}
    policy = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    meta = json.loads(extra["metadata.json"])
    if meta.get("format") != "robofleet-policy":
        print(f"{path}: no RoboFleet metadata", file=sys.stderr)
        return 1
    obs_dim, act_dim = meta["obs_dim"], meta["act_dim"]
    assert len(meta["obs_names"]) == obs_dim, "one name per observation entry"
    assert len(meta["act_names"]) == act_dim, "one name per actuator"
    print(f"{meta['env_id']}: obs {obs_dim} ({', '.join(meta['obs_names'])}), "
          f"act {act_dim} ({', '.join(meta['act_names'])}), "
          f"trained {meta['env_steps']} env steps")

    obs = torch.randn(8, obs_dim)
    state_dim = meta.get("state_dim", 0)
    with torch.no_grad():
        if state_dim > 0:
            # a policy with memory: the state goes in and comes out each step
            start = policy.initial_state(8)
            assert start.shape == (8, state_dim)
            action, state = policy(obs, start)
            units, _ = policy.actuator_action(obs, start)
            sample, _ = policy.stochastic_action(obs, start)
            critic_input = state  # the critic reads what the actor reads
        else:
            action = policy(obs)
            units = policy.actuator_action(obs)
            sample = policy.stochastic_action(obs)
            critic_input = obs
        # and the privileged entries after it (zeros here)
        privileged = torch.zeros(8, meta.get("privileged_dim", 0))
        value = policy.value(torch.cat([critic_input, privileged], 1))
        # a controller loop without state of its own: reset() then act()
        policy.reset()
        looped = [policy.act(obs) for _ in range(3)]
    assert action.shape == (8, act_dim) and sample.shape == (8, act_dim)
    assert value.shape == (8,)
    assert torch.equal(looped[0], action), "act() after reset() is forward() from the start"
    assert float(action.abs().max()) <= 1.0, "actions are in [-1, 1]"
    low = torch.tensor(meta["act_low"])
    high = torch.tensor(meta["act_high"])
    assert bool(((units >= low - 1e-5) & (units <= high + 1e-5)).all()), "within ctrlrange"
    print(f"forward {tuple(action.shape)}, actuator_action in [{float(units.min()):.3f}, "
          f"{float(units.max()):.3f}], value mean {float(value.mean()):.3f}, "
          f"state {state_dim}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
