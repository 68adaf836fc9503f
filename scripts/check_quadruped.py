#!/usr/bin/env python3
"""Checks the quadruped asset (envs/assets/quadruped*.xml) in MuJoCo.

    check_quadruped.py [--assets envs/assets] [--speed-seconds 2]

Needs only a Python with the `mujoco` package (e.g. `pip install mujoco`).
For the flat scene (quadruped.xml) and the height-field scene
(quadruped_rough.xml, flat while its data is all zero) it:
  - prints the model's sizes, total mass, trunk size and leg lengths;
  - checks the servos: force = kp (ctrl - q) - kv qdot, clipped to forcerange,
    with ctrl clamped to ctrlrange, and that joint limits hold against a
    torque pushing past them;
  - holds the "home" keyframe for 5 s: the trunk must stay within 5 cm of its
    start height and above 0.2 m, upright, without more than 1 cm of
    penetration, with all four feet loaded and the foot forces summing to
    the robot's weight (within 20%);
  - drops from the "crouch" keyframe and checks that it comes to rest upright;
  - measures mj_step speed with random controls in the control range (and,
    for the rough scene, also on random terrain).
Exits non-zero if a check fails.
"""
import argparse
import os
import sys
import time

import mujoco
import numpy as np

LEGS = ("FR", "FL", "RR", "RL")
SCENES = ("quadruped.xml", "quadruped_rough.xml")

failures = []


def check(ok, what):
    print(f"  [{'ok' if ok else 'FAIL'}] {what}")
    if not ok:
        failures.append(what)


def trunk_state(m, d):
    """Trunk height (m) and the world-z component of its z axis."""
    trunk = m.body("trunk").id
    return d.xpos[trunk][2], d.xmat[trunk][8]


def deepest_penetration(d):
    """Largest contact penetration (m, positive), 0 if none."""
    if d.ncon == 0:
        return 0.0
    return max(0.0, -min(c.dist for c in d.contact[: d.ncon]))


def touches(m, d):
    return np.array([d.sensor(f"{leg}_touch").data[0] for leg in LEGS])


def describe(m):
    print(f"  nq={m.nq} nv={m.nv} nu={m.nu} nsensor={m.nsensor} nsensordata={m.nsensordata}")
    print(f"  total mass {mujoco.mj_getTotalmass(m):.2f} kg, timestep {m.opt.timestep} s")
    trunk_size = 2 * m.geom("trunk").size
    print(f"  trunk {trunk_size[0]:.3f} x {trunk_size[1]:.3f} x {trunk_size[2]:.3f} m")
    hip = m.body("FL_hip").pos
    print(f"  hip offsets x ±{abs(hip[0]):.3f}, y ±{abs(hip[1]):.3f} m; "
          f"hip to thigh {abs(m.body('FL_thigh').pos[1]):.3f} m")
    thigh = np.linalg.norm(m.body("FL_calf").pos)
    calf = np.linalg.norm(m.geom("FL_foot").pos)
    print(f"  thigh {thigh:.3f} m, calf {calf:.3f} m, foot radius {m.geom('FL_foot').size[0]:.3f} m")
    if m.nhfield:
        h = m.hfield("terrain")
        nrow, ncol = int(h.nrow[0]), int(h.ncol[0])
        print(f"  hfield {nrow}x{ncol}, size {np.round(h.size, 3).tolist()}, "
              f"cell {2 * h.size[0] / (ncol - 1):.3f} m, max |data| {np.abs(m.hfield_data).max()}")


def check_camera(m):
    """The "track" camera keeps its offset from the robot's centre of mass."""
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_forward(m, d)
    offset = d.cam("track").xpos - d.subtree_com[0]
    d.qpos[:2] += (3.0, -2.0)
    mujoco.mj_forward(m, d)
    moved = d.cam("track").xpos - d.subtree_com[0]
    check(np.allclose(offset, moved), f"camera track follows the robot (offset {np.round(offset, 2)})")


def check_servos(m):
    """Actuator force law, ctrl clamping and joint limits, with gravity off."""
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    d.qpos[2] += 1.0  # in the air: no contacts
    for name in ("FR_hip", "FL_thigh", "RR_calf"):
        act, jnt = m.actuator(name), m.joint(name)
        kp, kv = act.gainprm[0], -act.biasprm[2]
        hi = act.forcerange[1]
        qadr, vadr = jnt.qposadr[0], jnt.dofadr[0]
        q0 = d.qpos[qadr]
        # damping: no position error, a joint speed of 2 rad/s
        d.ctrl[act.id], d.qvel[vadr] = q0, 2.0
        mujoco.mj_forward(m, d)
        check(abs(d.actuator_force[act.id] - (-kv * 2.0)) < 1e-9,
              f"{name}: kv={kv} gives {d.actuator_force[act.id]:.3f} N m at 2 rad/s")
        # stiffness: 0.1 rad of error, no speed
        d.qvel[vadr] = 0.0
        d.ctrl[act.id] = q0 + 0.1
        mujoco.mj_forward(m, d)
        check(abs(d.actuator_force[act.id] - kp * 0.1) < 1e-9,
              f"{name}: kp={kp} gives {d.actuator_force[act.id]:.3f} N m at 0.1 rad")
        # a control far past ctrlrange is clamped to it: 0.05 rad from the top
        # of the range, a command 10 rad above it pulls with kp * 0.05 only
        d.ctrl[act.id] = act.ctrlrange[1] + 10.0
        d.qpos[qadr] = act.ctrlrange[1] - 0.05
        mujoco.mj_forward(m, d)
        check(abs(d.actuator_force[act.id] - kp * 0.05) < 1e-9,
              f"{name}: ctrl clamped to {act.ctrlrange[1]} "
              f"({d.actuator_force[act.id]:.2f} N m at 0.05 rad below it)")
        # the whole range as error: kp * error, cut at forcerange
        d.ctrl[act.id] = act.ctrlrange[0]
        mujoco.mj_forward(m, d)
        expect = -min(hi, kp * (d.qpos[qadr] - act.ctrlrange[0]))
        check(abs(d.actuator_force[act.id] - expect) < 1e-9,
              f"{name}: force limited to {d.actuator_force[act.id]:.2f} N m (forcerange {hi})")
        check(np.allclose(act.ctrlrange, jnt.range), f"{name}: ctrlrange = joint range")
        d.ctrl[act.id], d.qpos[qadr] = q0, q0

    # joint limits: with gravity off, servos at the limit and 50 N m pushing past it
    saved_gravity = m.opt.gravity.copy()
    m.opt.gravity[:] = 0
    for side, push in ((1, 50.0), (0, -50.0)):
        mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
        d.qpos[2] += 1.0
        d.ctrl[:] = m.actuator_ctrlrange[:, side]
        d.qfrc_applied[6:] = push
        for _ in range(int(1.0 / m.opt.timestep)):
            mujoco.mj_step(m, d)
        q = d.qpos[7:]
        limit = m.jnt_range[1:, side]
        overshoot = (q - limit) if side == 1 else (limit - q)
        worst = int(np.argmax(overshoot)) + 1  # joint 0 is the free joint
        check(overshoot.max() < 0.05,
              f"joint limits hold against 50 N m ({'upper' if side else 'lower'}): "
              f"worst overshoot {overshoot.max() * 1000:.1f} mrad ({m.joint(worst).name})")
    m.opt.gravity[:] = saved_gravity


def hold(m, key, seconds):
    """Resets to a keyframe and holds its ctrl; returns data and a trace."""
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key(key).id)
    mujoco.mj_forward(m, d)
    z0, _ = trunk_state(m, d)
    zs, ups, pens = [], [], []
    for _ in range(int(seconds / m.opt.timestep)):
        mujoco.mj_step(m, d)
        z, up = trunk_state(m, d)
        zs.append(z)
        ups.append(up)
        pens.append(deepest_penetration(d))
    return d, z0, np.array(zs), np.array(ups), np.array(pens)


def check_stand(m):
    weight = mujoco.mj_getTotalmass(m) * np.linalg.norm(m.opt.gravity)
    d, z0, zs, ups, pens = hold(m, "home", 5.0)
    print(f"  home: start {z0:.3f} m, end {zs[-1]:.3f} m, range {zs.min():.3f}..{zs.max():.3f} m")
    check(np.abs(zs - z0).max() < 0.05 and zs.min() > 0.2,
          f"home: trunk height within 5 cm of start and above 0.2 m "
          f"(worst {np.abs(zs - z0).max() * 100:.1f} cm)")
    check(ups.min() > 0.95, f"home: upright (min z·z {ups.min():.4f})")
    check(pens.max() < 0.01, f"home: penetration {pens.max() * 1000:.1f} mm < 10 mm")
    t = touches(m, d)
    check((t > 0).all(), f"home: all feet loaded, touch {np.round(t, 1)} N")
    check(abs(t.sum() - weight) < 0.2 * weight,
          f"home: touch sum {t.sum():.1f} N vs weight {weight:.1f} N")
    check(np.abs(d.qvel).max() < 0.01, f"home: at rest (max |qvel| {np.abs(d.qvel).max():.1e})")
    acc, quat = d.sensor("imu_acc").data, d.sensor("imu_quat").data
    check(abs(acc[2] - 9.81) < 0.3 and abs(quat[0]) > 0.999,
          f"home: IMU reads gravity ({acc[2]:.2f} m/s^2) and a level quaternion ({quat[0]:.4f})")
    check(sum(w.number for w in d.warning) == 0, "home: no MuJoCo warnings")
    allowed = {"floor"} | {f"{leg}_foot" for leg in LEGS}
    touching = {m.geom(g).name for c in d.contact[: d.ncon] for g in c.geom}
    check(touching <= allowed, f"home: only feet touch the ground {sorted(touching - allowed)}")


def check_crouch(m):
    d, z0, zs, ups, pens = hold(m, "crouch", 3.0)
    print(f"  crouch: start {z0:.3f} m, end {zs[-1]:.3f} m")
    check(ups.min() > 0.95, f"crouch: upright (min z·z {ups.min():.4f})")
    check(pens.max() < 0.01, f"crouch: penetration {pens.max() * 1000:.1f} mm < 10 mm")
    check(np.abs(d.qvel).max() < 0.01,
          f"crouch: comes to rest (max |qvel| {np.abs(d.qvel).max():.1e})")
    check(0.08 < zs[-1] < z0, f"crouch: lies low ({zs[-1]:.3f} m)")
    check(sum(w.number for w in d.warning) == 0, "crouch: no MuJoCo warnings")
    t = touches(m, d)
    check((t > 0).all(), f"crouch: all feet loaded, touch {np.round(t, 1)} N")


def measure_speed(m, seconds, label):
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    rng = np.random.default_rng(0)
    lo, hi = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
    ctrls = rng.uniform(lo, hi, size=(1000, m.nu))
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i in range(100):
            d.ctrl[:] = ctrls[(steps + i) % 1000]
            mujoco.mj_step(m, d)
        steps += 100
    rate = steps / (time.perf_counter() - start)
    print(f"  speed ({label}): {rate:,.0f} steps/s = {rate * m.opt.timestep:,.0f}x real time")
    check(not d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number,
          f"speed ({label}): no divergence under random controls")
    return rate


def random_terrain(m, amplitude, seed=0):
    """Fills the height field with smooth random bumps up to `amplitude` metres."""
    h = m.hfield("terrain")
    nrow, ncol = int(h.nrow[0]), int(h.ncol[0])
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, size=(nrow // 8 + 2, ncol // 8 + 2))
    rows = np.linspace(0, coarse.shape[0] - 1, nrow)
    cols = np.linspace(0, coarse.shape[1] - 1, ncol)
    # bilinear upsampling of a coarse grid: bumps about 0.4 m wide
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, coarse.shape[0] - 1), np.minimum(c0 + 1, coarse.shape[1] - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    grid = ((1 - fr) * (1 - fc) * coarse[np.ix_(r0, c0)] + fr * (1 - fc) * coarse[np.ix_(r1, c0)]
            + (1 - fr) * fc * coarse[np.ix_(r0, c1)] + fr * fc * coarse[np.ix_(r1, c1)])
    start = m.hfield_adr[h.id]
    m.hfield_data[start:start + nrow * ncol] = (grid * amplitude / h.size[2]).ravel()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=os.path.join(here, "..", "envs", "assets"))
    parser.add_argument("--speed-seconds", type=float, default=2.0)
    args = parser.parse_args()

    print(f"MuJoCo {mujoco.__version__}")
    for scene in SCENES:
        path = os.path.join(args.assets, scene)
        print(f"\n{scene}")
        m = mujoco.MjModel.from_xml_path(path)
        describe(m)
        check_camera(m)
        check_servos(m)
        check_stand(m)
        check_crouch(m)
        measure_speed(m, args.speed_seconds, "flat" if not m.nhfield else "hfield, all zero")
        if m.nhfield:
            random_terrain(m, amplitude=0.08)
            measure_speed(m, args.speed_seconds, "hfield, random bumps up to 8 cm")

    if failures:
        print(f"\n{len(failures)} check(s) failed")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
