"""The ROS-free simulated drone camera and the closed loop with the shipped tracker."""
from __future__ import annotations

import math

import numpy as np
import pytest

from allinone_ros.control import FollowConfig
from allinone_ros.lifecycle.states import TargetState
from allinone_ros.simulation import (
    BodyVelocity, CameraPose, DroneCamera, LoopConfig, SimConfig, plan_scene, render_view,
    run_episode, start_pose, summarize, world_to_image,
)

CFG = SimConfig(latency=0.2, response_time=0.0)


def test_image_axes_of_the_nadir_camera():
    pose = CameraPose(100.0, 50.0, 40.0, math.pi / 2)  # body +x (front) points north
    ahead, left = np.array([[100.0, 60.0]]), np.array([[90.0, 50.0]])  # 10 m north / 10 m west = left
    (u_a, v_a), = world_to_image(pose, ahead, CFG)
    (u_l, v_l), = world_to_image(pose, left, CFG)
    assert u_a == pytest.approx(320.0) and v_a < 180.0  # in front: above the centre
    assert u_l < 320.0 and v_l == pytest.approx(180.0)  # to the left: left of the centre
    assert 180.0 - v_a == pytest.approx(10.0 * CFG.focal_px / 40.0)


def test_commands_act_after_the_latency_in_the_body_frame():
    drone = DroneCamera(CFG, CameraPose(0.0, 0.0, 40.0, math.pi / 2))
    drone.command(BodyVelocity(vx=2.0, vy=1.0, vz=1.0, yaw_rate=0.0))
    drone.advance(0.2)  # exactly the latency: nothing moved yet
    assert (drone.pose.x, drone.pose.y, drone.pose.altitude) == pytest.approx((0.0, 0.0, 40.0), abs=0.05)
    drone.advance(1.0)  # 1 s at vx 2 (north), vy 1 (west), vz 1
    assert (drone.pose.x, drone.pose.y, drone.pose.altitude) == pytest.approx((-1.0, 2.0, 41.0), abs=0.15)
    drone.command(BodyVelocity(yaw_rate=0.5, vz=-100.0))
    drone.advance(2.2)
    assert drone.pose.yaw == pytest.approx(math.pi / 2 + 1.0, abs=0.06)
    assert drone.pose.altitude == CFG.min_altitude  # clamped


@pytest.mark.parametrize("bad", [BodyVelocity(vx=float("nan")), BodyVelocity(yaw_rate=float("inf"))])
def test_non_finite_commands_are_refused(bad):
    drone = DroneCamera(CFG, CameraPose(0.0, 0.0, 40.0, 0.0))
    with pytest.raises(ValueError, match="non-finite"):
        drone.command(bad)


def test_sim_config_refuses_bad_values():
    with pytest.raises(ValueError, match=r"need 0 < min_altitude <= altitude <= max_altitude"):
        SimConfig(altitude=5.0)
    with pytest.raises(ValueError, match="latency must be finite"):
        SimConfig(latency=float("nan"))


def test_render_draws_the_target_where_the_truth_says():
    scene = plan_scene(SimConfig(), seed=3, duration=12.0)
    pose = start_pose(scene)
    frame, truth = render_view(scene, pose, 0.0)
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
    assert truth.in_view and abs(truth.offset_x) < 1e-6 and abs(truth.offset_y) < 1e-6
    x, y, w, h = truth.box_xywh
    centre = frame[int(y + h / 2) - 1:int(y + h / 2) + 2, int(x + w / 2) - 1:int(x + w / 2) + 2].reshape(-1, 3)
    red = (centre[:, 0] > 150) & (centre[:, 1] < 80) & (centre[:, 2] < 80)
    assert red.mean() > 0.5  # the red car's paint, not its dark windows
    later = scene.target_at(6.0)
    assert math.hypot(later.x - pose.x, later.y - pose.y) > 10.0  # the target drives away on its own


def test_scene_has_a_tree_on_the_targets_path():
    scene = plan_scene(SimConfig(), seed=5, duration=30.0)
    from allinone_ros.simulation import view_truth

    car = scene.target_at(scene.tree_time)
    assert view_truth(scene, CameraPose(car.x, car.y, 45.0, 0.0), scene.tree_time).under_tree


def test_closed_loop_with_the_shipped_tracker_keeps_the_target_centred():
    torch = pytest.importorskip("torch")
    from allinone_ros.lifecycle import build_lifecycle

    torch.set_num_threads(1)
    scene = plan_scene(SimConfig(), seed=1, duration=10.0)
    closed = summarize(run_episode(scene, FollowConfig(), LoopConfig(frames=100), build_lifecycle()))
    fixed = summarize(run_episode(scene, FollowConfig(), LoopConfig(frames=100, control=False), None))
    assert closed["in_view_fraction"] == 1.0 and closed["tracking_fraction"] > 0.9
    assert closed["mean_abs_offset"] < 0.2
    assert fixed["in_view_fraction"] < 0.9  # the same scene without control loses the target


def test_lost_target_stops_the_drone():
    pytest.importorskip("torch")
    from allinone_ros.lifecycle import LifecycleConfig, build_lifecycle

    scene = plan_scene(SimConfig(), seed=2, duration=6.0)
    target = build_lifecycle()

    def lose_after_frame_20(frame, entry):  # from frame 21 on no confidence is enough: the target is LOST
        if len(seen) == 20:
            target.config = LifecycleConfig(lost_threshold=1.0, recover_threshold=1.0, lost_patience=1)
        seen.append(entry)

    seen: list = []
    logs = run_episode(scene, FollowConfig(search_after=-1.0), LoopConfig(frames=60), target, lose_after_frame_20)
    assert [f.state for f in logs[19:23]] == [TargetState.TRACKING, TargetState.TRACKING, TargetState.LOST,
                                             TargetState.LOST]
    assert any(f.vy != 0.0 for f in logs[1:20])  # it was following the (moving) box
    assert all(f.vx == f.vy == f.vz == f.yaw_rate == 0.0 for f in logs[22:])
    assert math.hypot(logs[-1].x - logs[-5].x, logs[-1].y - logs[-5].y) < 1e-3  # and the vehicle stands still
