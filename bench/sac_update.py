#!/usr/bin/env python3
"""The SAC gradient step of `robofleet bench sac`, written plainly in PyTorch.

The baseline the C++ step is measured against: the same networks (an actor
MLP with ReLU giving the mean and a state-dependent log std clamped to
[-5, 2], its last layer scaled by 0.01; twin Q MLPs on [obs, action] with
target copies), the same replay sampling (uniform indices into a buffer of
raw transitions, observations normalised by running statistics and clipped
to [-10, 10]), the same losses (soft Bellman target with the twin minimum, the
reparameterised tanh-Gaussian actor loss, the temperature loss on log alpha)
and Adam for each, then Polyak averaging of the targets: written as a PyTorch
user would write it. Prints one JSON object; with --serve, prints "ready"
after a warm-up, then runs --steps timed gradient steps per line read from
stdin and answers each with their seconds (how `robofleet bench sac --python`
interleaves it with the C++ steps).

    /usr/bin/python3 bench/sac_update.py --hidden 256,256 --batch 256
"""
import argparse
import json
import math

import torch
from torch import nn

from baseline import mlp, serve_or_time, set_compute_threads

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
LOG_2 = math.log(2.0)


class Actor(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.act_dim = act_dim
        self.net = mlp(obs_dim, hidden, 2 * act_dim, nn.ReLU)
        with torch.no_grad():
            self.net[-1].weight.mul_(0.01)
            self.net[-1].bias.zero_()

    def sample(self, obs):
        """A reparameterised tanh-Gaussian action and its log-probability."""
        mean, log_std = self.net(obs).split(self.act_dim, dim=-1)
        log_std = log_std.clamp(-5.0, 2.0)
        u = mean + log_std.exp() * torch.randn_like(mean)
        z = (u - mean) * torch.exp(-log_std)
        log_prob = (-0.5 * z.pow(2) - log_std - LOG_SQRT_2PI).sum(-1)
        log_prob -= (2.0 * (LOG_2 - u - nn.functional.softplus(-2.0 * u))).sum(-1)
        return torch.tanh(u), log_prob


class Sac:
    def __init__(self, obs_dim, act_dim, hidden, lr=3e-4, gamma=0.99, tau=0.005):
        self.gamma, self.tau = gamma, tau
        self.actor = Actor(obs_dim, act_dim, hidden)
        def critic():
            return mlp(obs_dim + act_dim, hidden, 1, nn.ReLU)
        self.q1, self.q2 = critic(), critic()
        self.q1_target, self.q2_target = critic(), critic()
        self.q1_target.load_state_dict(self.q1.state_dict())
        self.q2_target.load_state_dict(self.q2.state_dict())
        for p in list(self.q1_target.parameters()) + list(self.q2_target.parameters()):
            p.requires_grad_(False)
        self.log_alpha = torch.zeros((), requires_grad=True)
        self.target_entropy = -float(act_dim)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.critic_optimizer = torch.optim.Adam(
            list(self.q1.parameters()) + list(self.q2.parameters()), lr=lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr)

    def step(self, obs, actions, rewards, next_obs, terminated):
        alpha = self.log_alpha.exp().item()
        with torch.no_grad():
            next_actions, next_log_prob = self.actor.sample(next_obs)
            x = torch.cat([next_obs, next_actions], -1)
            next_q = torch.min(self.q1_target(x), self.q2_target(x)).squeeze(-1)
            target = rewards + self.gamma * (1.0 - terminated) * (next_q - alpha * next_log_prob)
        x = torch.cat([obs, actions], -1)
        q1, q2 = self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)
        critic_loss = (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()
        self.critic_optimizer.zero_grad()
        critic_loss.backward()
        self.critic_optimizer.step()

        pi_actions, log_prob = self.actor.sample(obs)
        x = torch.cat([obs, pi_actions], -1)
        pi_q = torch.min(self.q1(x), self.q2(x)).squeeze(-1)
        actor_loss = (alpha * log_prob - pi_q).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()

        with torch.no_grad():
            for target_net, net in ((self.q1_target, self.q1), (self.q2_target, self.q2)):
                for tp, p in zip(target_net.parameters(), net.parameters()):
                    tp.mul_(1.0 - self.tau).add_(p, alpha=self.tau)
        return critic_loss.item(), actor_loss.item()


class Replay:
    """Raw transitions and the running statistics that normalise sampled observations."""

    def __init__(self, size, obs_dim, act_dim):
        self.obs = torch.randn(size, obs_dim) * 3.0 + 1.0
        self.next_obs = torch.randn(size, obs_dim) * 3.0 + 1.0
        self.actions = torch.rand(size, act_dim) * 2.0 - 1.0
        self.rewards = torch.randn(size)
        self.terminated = (torch.rand(size) < 0.01).float()
        self.mean = self.obs.mean(0)
        self.std = (self.obs.var(0) + 1e-8).sqrt()

    def normalize(self, obs):
        return ((obs - self.mean) / self.std).clamp(-10.0, 10.0)

    def sample(self, n):
        i = torch.randint(0, self.obs.shape[0], (n,))
        return (self.normalize(self.obs[i]), self.actions[i], self.rewards[i],
                self.normalize(self.next_obs[i]), self.terminated[i])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obs-dim", type=int, default=17)
    parser.add_argument("--act-dim", type=int, default=6)
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--replay", type=int, default=100000)
    parser.add_argument("--steps", type=int, default=50, help="gradient steps per timed unit")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", action="store_true",
                        help="time --steps gradient steps per line on stdin, answering their seconds")
    args = parser.parse_args()
    hidden = [int(h) for h in args.hidden.split(",")]

    set_compute_threads(args.threads)
    torch.manual_seed(1)
    sac = Sac(args.obs_dim, args.act_dim, hidden)
    replay = Replay(args.replay, args.obs_dim, args.act_dim)

    def run(steps):
        for _ in range(steps):
            sac.step(*replay.sample(args.batch))

    timed = serve_or_time(lambda: run(args.steps), args.seconds, args.serve)
    if timed is None:
        return
    units, elapsed = timed
    print(json.dumps({
        "bench": "sac_python",
        "steps_per_s": args.steps * units / elapsed,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
