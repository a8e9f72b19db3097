"""The reference follow controller (allinone_ros.control): signs, hold rules, limits, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

from allinone_ros.config_io import ConfigError
from allinone_ros.control import (
    ControlInputError, FollowConfig, FollowController, TargetObservation, follow_config_from_dict,
    tracking_image_status,
)
from allinone_ros.lifecycle.states import TargetState

W, H = 640, 360


def obs_at(cx: float, cy: float, stamp: float, state: int = TargetState.TRACKING, size: float = 40.0,
           ) -> TargetObservation:
    return TargetObservation(int(state), (cx - size / 2, cy - size / 2, size, size), W, H, stamp)


def run_steady(controller: FollowController, cx: float, cy: float, steps: int = 40, dt: float = 0.1):
    cmd = None
    for k in range(steps):
        cmd = controller.update(obs_at(cx, cy, k * dt), k * dt + 0.02)
    return cmd


def test_down_camera_signs_follow_rep103():
    # Target right of centre -> move right (body -y); below centre (behind) -> move back (body -x).
    right = run_steady(FollowController(FollowConfig(camera="down")), 480, 180)
    assert right.vy < 0 and right.vx == 0 and right.vz == 0 and right.yaw_rate == 0
    below = run_steady(FollowController(FollowConfig(camera="down")), 320, 300)
    assert below.vx < 0 and below.vy == 0
    above_left = run_steady(FollowController(FollowConfig(camera="down")), 100, 50)
    assert above_left.vx > 0 and above_left.vy > 0


def test_forward_camera_signs():
    cfg = FollowConfig(camera="forward", kp_x=1.0, ki_x=0.2, kp_y=1.0, ki_y=0.2, desired_box_size=0.3)
    right_low_small = run_steady(FollowController(cfg), 500, 300)  # right, below, 40 px box: small
    assert right_low_small.yaw_rate < 0  # turn right
    assert right_low_small.vz < 0  # descend
    assert right_low_small.vx > 0  # approach
    assert right_low_small.vy == 0


def test_distance_keeping_on_the_down_camera_climbs_when_the_box_is_too_big():
    cfg = FollowConfig(desired_box_size=0.05)
    big = FollowController(cfg)
    cmd = None
    for k in range(30):
        cmd = big.update(obs_at(320, 180, k * 0.1, size=150.0), k * 0.1)
    assert cmd.vz > 0  # box sqrt(150*150/(640*360)) = 0.31 > 0.05: too close, climb


def test_centred_target_within_dead_band_gives_zero():
    cmd = run_steady(FollowController(FollowConfig(dead_band=0.05)), 320 + 0.04 * 320, 180 - 0.04 * 180)
    assert cmd.is_zero and cmd.mode == "track"


@pytest.mark.parametrize("state", [TargetState.LOST, TargetState.IDLE, TargetState.WAITING_FOR_BOX,
                                   TargetState.GROUNDING])
def test_any_state_but_tracking_gives_zero_at_once(state):
    controller = FollowController(FollowConfig(search_after=0.0))
    moving = run_steady(controller, 600, 20)
    assert not moving.is_zero
    box = (0.0, 0.0, 0.0, 0.0) if state != TargetState.LOST else (580.0, 0.0, 40.0, 40.0)
    cmd = controller.update(TargetObservation(int(state), box, W, H, 4.0), 4.02)
    assert cmd.is_zero
    assert cmd.mode == ("hold" if state == TargetState.LOST else "idle")


def test_stale_message_gives_zero_and_fresh_one_resumes():
    controller = FollowController(FollowConfig(max_age=0.5))
    assert not run_steady(controller, 600, 20).is_zero
    last = obs_at(600, 20, 3.9)
    assert controller.update(last, 4.3).mode == "track"  # 0.4 s old: still used
    stale = controller.update(last, 4.41)  # 0.51 s old
    assert stale.is_zero and stale.mode == "stale"
    assert controller.update(None, 5.0).is_zero  # nothing at all: zero too
    future = controller.update(obs_at(600, 20, 6.0), 5.0)  # stamp 1 s ahead of the clock
    assert future.is_zero and future.mode == "stale"
    resumed = [controller.update(obs_at(600, 20, 5.0 + 0.1 * k), 5.0 + 0.1 * k) for k in range(1, 5)]
    assert resumed[-1].mode == "track" and not resumed[-1].is_zero


def test_lost_holds_then_searches_towards_the_side_last_seen():
    cfg = FollowConfig(search_after=1.0, search_yaw_rate=0.3, max_yaw_accel=1.0)
    controller = FollowController(cfg)
    run_steady(controller, 600, 180)  # last seen right of centre
    lost = [controller.update(TargetObservation(TargetState.LOST, None, W, H, 4.0 + 0.1 * k), 4.0 + 0.1 * k)
            for k in range(30)]
    modes = [c.mode for c in lost]
    assert modes[:10] == ["hold"] * 10 and all(c.is_zero for c in lost[:10])  # 0 .. 0.9 s LOST
    assert set(modes[10:]) == {"search"}
    assert lost[-1].yaw_rate == pytest.approx(-0.3)  # turning right, ramped up to the search rate
    assert [round(c.yaw_rate, 6) for c in lost[10:13]] == [-0.1, -0.2, -0.3]  # ramp: 1 rad/s^2 * 0.1 s
    assert all(c.vx == c.vy == c.vz == 0 for c in lost)


def test_search_can_be_switched_off():
    controller = FollowController(FollowConfig(search_after=-1.0))
    lost = [controller.update(TargetObservation(TargetState.LOST, None, W, H, 0.1 * k), 0.1 * k) for k in range(100)]
    assert all(c.is_zero and c.mode == "hold" for c in lost)


@pytest.mark.parametrize("bad, words", [
    (dict(box=(float("nan"), 0.0, 10.0, 10.0)), "box_xywh"),
    (dict(box=(0.0, 0.0, float("inf"), 10.0)), "box_xywh"),
    (dict(stamp=float("nan")), "stamp nan"),
    (dict(state=7), "state 7"),
    (dict(box=(0.0, 0.0, -5.0, 10.0)), "negative width"),
    (dict(box=None), "TRACKING needs a box_xywh"),
    (dict(width=0), "image size 0x360"),
])
def test_non_finite_or_invalid_observations_are_refused_by_name(bad, words):
    values = dict(state=int(TargetState.TRACKING), box=(10.0, 10.0, 20.0, 20.0), width=W, stamp=1.0)
    values.update(bad)
    controller = FollowController()
    with pytest.raises(ControlInputError, match="refused") as info:
        controller.update(TargetObservation(values["state"], values["box"], values["width"], H, values["stamp"]), 1.0)
    assert words in str(info.value)
    assert controller.update(obs_at(320, 180, 1.0), 1.0).mode == "track"  # still usable afterwards


@pytest.mark.parametrize("now", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_time_is_refused(now):
    with pytest.raises(ControlInputError, match=f"now={now}"):
        FollowController().update(obs_at(320, 180, 1.0), now)


def _random_observation(rng: np.random.Generator, stamp: float) -> TargetObservation:
    state = int(rng.choice([0, 1, 2, 2, 2, 2, 3, 4]))
    w, h = rng.uniform(0.0, 900.0, 2)
    x, y = rng.uniform(-400.0, 1000.0, 2)
    return TargetObservation(state, (x, y, w + 1.0, h + 1.0), W, H, stamp)


def _random_config(rng: np.random.Generator) -> FollowConfig:
    u = rng.uniform
    return FollowConfig(
        camera=str(rng.choice(["down", "forward"])), kp_x=u(0, 100), kp_y=u(0, 100), ki_x=u(0, 50),
        ki_y=u(0, 50), integral_limit=u(0, 2), kp_size=u(0, 100), desired_box_size=u(0, 1),
        dead_band=u(0, 0.5), max_speed_xy=u(0.1, 20), max_speed_z=u(0.1, 5), max_yaw_rate=u(0.5, 3),
        max_accel_xy=u(0.1, 20), max_accel_z=u(0.1, 10), max_yaw_accel=u(0.1, 10), max_age=u(0.05, 2),
        search_after=u(-1, 3), search_yaw_rate=u(0, 0.5),
    )


@pytest.mark.parametrize("seed", range(40))
def test_property_every_command_respects_the_limits(seed):
    """Random configs, observation streams, clocks (jitter, gaps, stale and repeated messages)."""
    rng = np.random.default_rng(seed)
    cfg = _random_config(rng)
    controller = FollowController(cfg)
    now, previous, obs = 0.0, None, None
    eps = 1e-9
    for _ in range(300):
        dt_clock = float(rng.choice([rng.uniform(0.0, 0.2), rng.uniform(0.2, 3.0)], p=[0.9, 0.1]))
        now += dt_clock
        if rng.random() < 0.8:
            obs = _random_observation(rng, now - rng.uniform(-0.05, 1.5 * cfg.max_age))
        cmd = controller.update(obs if rng.random() < 0.95 else None, now)
        assert all(math.isfinite(v) for v in (cmd.vx, cmd.vy, cmd.vz, cmd.yaw_rate))
        assert math.hypot(cmd.vx, cmd.vy) <= cfg.max_speed_xy + eps
        assert abs(cmd.vz) <= cfg.max_speed_z + eps
        assert abs(cmd.yaw_rate) <= cfg.max_yaw_rate + eps
        if previous is not None and not cmd.is_zero:
            dt = min(dt_clock, cfg.max_age)
            assert math.hypot(cmd.vx - previous.vx, cmd.vy - previous.vy) <= cfg.max_accel_xy * dt + eps
            assert abs(cmd.vz - previous.vz) <= cfg.max_accel_z * dt + eps
            assert abs(cmd.yaw_rate - previous.yaw_rate) <= cfg.max_yaw_accel * dt + eps
        if obs is None or not (-cfg.max_future <= now - obs.stamp <= cfg.max_age) or (
                obs.state not in (TargetState.TRACKING, TargetState.LOST)):
            assert cmd.is_zero
        previous = cmd


@pytest.mark.parametrize("values, words", [
    (dict(camera="sideways"), "camera must be one of down, forward"),
    (dict(kp_x=float("nan")), "kp_x must be finite"),
    (dict(max_speed_xy=0.0), "max_speed_xy must be > 0"),
    (dict(ki_y=-1.0), "ki_y must be >= 0"),
    (dict(desired_box_size=1.5), "desired_box_size must be in [0, 1]"),
    (dict(search_yaw_rate=2.0, max_yaw_rate=1.0), "search_yaw_rate 2.0 exceeds max_yaw_rate 1.0"),
])
def test_config_refuses_bad_values(values, words):
    with pytest.raises(ValueError) as info:
        FollowConfig(**values)
    assert words in str(info.value)


def test_config_from_yaml_mapping_is_strict():
    assert follow_config_from_dict({"kp_x": 3, "camera": "forward"}) == FollowConfig(kp_x=3.0, camera="forward")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['kp_z'\]"):
        follow_config_from_dict({"kp_z": 1.0})


def test_mavlink_tracking_image_status_mapping():
    status = tracking_image_status(TargetObservation(TargetState.TRACKING, (160.0, 90.0, 320.0, 90.0), W, H, 0.0))
    assert (status.tracking_status, status.tracking_mode, status.target_data) == (1, 2, 4)
    assert (status.rec_top_x, status.rec_top_y, status.rec_bottom_x, status.rec_bottom_y) == (0.25, 0.25, 0.75, 0.5)
    assert (status.point_x, status.point_y) == (0.5, 0.375) and math.isnan(status.radius)
    clipped = tracking_image_status(TargetObservation(TargetState.TRACKING, (-64.0, 300.0, 128.0, 120.0), W, H, 0.0))
    assert (clipped.rec_top_x, clipped.rec_bottom_x, clipped.rec_bottom_y) == (0.0, 0.1, 1.0)
    lost = tracking_image_status(TargetObservation(TargetState.LOST, None, W, H, 0.0))
    assert (lost.tracking_status, lost.tracking_mode, lost.target_data) == (1, 2, 0) and math.isnan(lost.rec_top_x)
    idle = tracking_image_status(TargetObservation(TargetState.GROUNDING, None, W, H, 0.0))
    assert (idle.tracking_status, idle.tracking_mode, idle.target_data) == (0, 0, 0) and math.isnan(idle.point_x)
    with pytest.raises(ControlInputError, match="box_xywh"):
        tracking_image_status(TargetObservation(TargetState.TRACKING, (0.0, float("nan"), 1.0, 1.0), W, H, 0.0))
