#!/usr/bin/env python3
"""The PPO update of `robofleet bench learner`, written plainly in PyTorch.

The baseline the C++ update is measured against: the same networks (separate
actor and critic MLPs with ELU, a state-independent log std clamped to
[-5, 2], the last actor layer scaled by 0.01), the same synthetic batch, minibatching, losses
(clipped surrogate, squared-error value loss, entropy bonus), adaptive
learning rate, gradient-norm clip and Adam, written as a PyTorch user would
write it. Prints one JSON object; with --serve, prints "ready" after one
warm-up update, then runs one timed update per line read from stdin and
answers each with its seconds (how `robofleet bench learner --python`
interleaves it with the C++ update).

    /usr/bin/python3 bench/ppo_update.py --hidden 64,64 --batch 4096 --minibatch 64
"""
import argparse
import json
import math

import torch
from torch import nn

from baseline import mlp, serve_or_time, set_compute_threads

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
HALF_LOG_2PIE = 0.5 * math.log(2.0 * math.pi * math.e)


class ActorCritic(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden, init_log_std=-0.5):
        super().__init__()
        self.actor = mlp(obs_dim, hidden, act_dim, nn.ELU)
        self.critic = mlp(obs_dim, hidden, 1, nn.ELU)
        self.log_std = nn.Parameter(torch.full((act_dim,), init_log_std))
        with torch.no_grad():
            self.actor[-1].weight.mul_(0.01)
            self.actor[-1].bias.zero_()

    def distribution(self, obs):
        mean = self.actor(obs)
        return mean, self.log_std.clamp(-5.0, 2.0).expand_as(mean)

    @staticmethod
    def log_prob(mean, log_std, actions):
        z = (actions - mean) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - LOG_SQRT_2PI).sum(-1)

    @staticmethod
    def entropy(log_std):
        return (log_std + HALF_LOG_2PIE).sum(-1).mean()


class Ppo:
    def __init__(self, policy, epochs, minibatches, lr=5e-4, clip=0.2, value_coef=1.0,
                 entropy_coef=0.0, desired_kl=0.01, max_grad_norm=1.0):
        self.policy = policy
        self.epochs, self.minibatches = epochs, minibatches
        self.clip, self.value_coef, self.entropy_coef = clip, value_coef, entropy_coef
        self.desired_kl, self.max_grad_norm = desired_kl, max_grad_norm
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr, eps=1e-5)

    def adapt_learning_rate(self, kl):
        for group in self.optimizer.param_groups:
            if kl > 2.0 * self.desired_kl:
                group["lr"] = max(1e-5, group["lr"] / 1.5)
            elif kl < 0.5 * self.desired_kl:
                group["lr"] = min(1e-2, group["lr"] * 1.5)

    def update(self, obs, actions, old_log_probs, advantages, returns):
        n = obs.shape[0]
        minibatch = max(1, n // self.minibatches)
        sums = torch.zeros(6)
        steps = 0
        for _ in range(self.epochs):
            order = torch.randperm(n)
            for start in range(0, n - minibatch + 1, minibatch):
                idx = order[start:start + minibatch]
                mb_obs = obs[idx]
                mb_adv = advantages[idx]
                if minibatch > 1:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
                mean, log_std = self.policy.distribution(mb_obs)
                log_probs = self.policy.log_prob(mean, log_std, actions[idx])
                values = self.policy.critic(mb_obs).squeeze(-1)
                entropy = self.policy.entropy(log_std)

                log_ratio = log_probs - old_log_probs[idx]
                ratio = log_ratio.exp()
                unclipped = ratio * mb_adv
                clipped = ratio.clamp(1.0 - self.clip, 1.0 + self.clip) * mb_adv
                policy_loss = -torch.min(unclipped, clipped).mean()
                value_loss = (values - returns[idx]).pow(2).mean()
                loss = policy_loss + self.value_coef * value_loss - self.entropy_coef * entropy
                with torch.no_grad():
                    approx_kl = ((ratio - 1.0) - log_ratio).mean()
                    clip_frac = ((ratio - 1.0).abs() > self.clip).float().mean()

                if not math.isfinite(loss.item()):
                    continue
                self.adapt_learning_rate(approx_kl.item())
                self.optimizer.zero_grad()
                loss.backward()
                grad_norm = nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                if not math.isfinite(grad_norm.item()):
                    self.optimizer.zero_grad()
                    continue
                self.optimizer.step()
                sums += torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach(),
                                     approx_kl, clip_frac, grad_norm])
                steps += 1
        return (sums / max(steps, 1)).tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=17)
    parser.add_argument("--act-dim", type=int, default=6)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--batch", type=int, default=16384)
    parser.add_argument("--minibatch", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", action="store_true",
                        help="time one update per line on stdin, answering its seconds")
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]

    set_compute_threads(args.threads)
    torch.manual_seed(1)
    policy = ActorCritic(args.obs_dim, args.act_dim, hidden)
    ppo = Ppo(policy, args.epochs, args.batch // args.minibatch)
    obs = torch.randn(args.batch, args.obs_dim)
    actions = torch.randn(args.batch, args.act_dim)
    with torch.no_grad():
        log_probs = policy.log_prob(*policy.distribution(obs), actions)
    advantages = torch.randn(args.batch)
    returns = torch.randn(args.batch)

    timed = serve_or_time(lambda: ppo.update(obs, actions, log_probs, advantages, returns),
                          args.seconds, args.serve)
    if timed is None:
        return
    updates, elapsed = timed
    print(json.dumps({
        "bench": "learner_python",
        "samples_per_s": args.batch * args.epochs * updates / elapsed,
        "update_s": elapsed / updates,
        "updates": updates,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
