"""Movement validation and anti-cheat: accepted steps, each rejection reason, corrections, seq."""

from __future__ import annotations

from tests.worlds.test_sim_helpers import Driver, frame_of, grid_zone, open_zone
from worlds.sim import FaceIntent, MoveIntent, StopIntent

WALLED = grid_zone(
    [
        "##########",
        "#........#",
        "#..#.....#",
        "#..#.....#",
        "#...#....#",
        "##########",
    ]
)


def walled_driver() -> Driver:
    driver = Driver.create([WALLED])
    driver.join("a", 1, "alpha", 2.5, 2.5)
    driver.tick()
    return driver


def test_a_step_within_speed_is_accepted_and_acknowledged() -> None:
    driver = walled_driver()

    driver.move("a", 2.5, 2.2)
    out = driver.tick()

    assert driver.position("a") == (2.5, 2.2)
    frame = frame_of(out, "a")
    assert frame is not None and frame["ack"] == 1 and "you" not in frame
    assert driver.sim.cheat_counters("a")["violations"] == {
        "speed": 0,
        "wall": 0,
        "bounds": 0,
        "time": 0,
    }


def test_too_fast_is_rejected_with_a_correction_to_the_old_position() -> None:
    driver = walled_driver()
    driver.move("a", 2.5, 2.2)
    driver.tick()

    driver.move("a", 8.5, 2.2)  # 6 tiles in 50 ms
    out = driver.tick()

    assert driver.position("a") == (2.5, 2.2)
    you = frame_of(out, "a")["you"]  # type: ignore[index]
    assert you == {"cor": 1, "x": 2.5, "y": 2.2, "f": 0}
    assert driver.sim.cheat_counters("a")["violations"]["speed"] == 1


def test_walking_into_a_wall_is_rejected() -> None:
    driver = walled_driver()

    driver.move("a", 2.8, 2.5)
    driver.tick()
    driver.move("a", 3.05, 2.5)  # tile (3, 2) is a wall
    out = driver.tick()

    assert driver.position("a") == (2.8, 2.5)
    assert frame_of(out, "a")["you"]["cor"] == 1  # type: ignore[index]
    assert driver.sim.cheat_counters("a")["violations"]["wall"] == 1


def test_a_long_move_cannot_clip_through_a_wall() -> None:
    driver = walled_driver()
    driver.idle(20)  # one second of client time allows ~6 tiles in one move

    driver.move("a", 4.5, 2.5)  # both ends walkable, the wall at x=3 lies between
    driver.tick()

    assert driver.position("a") == (2.5, 2.5)
    assert driver.sim.cheat_counters("a")["violations"]["wall"] == 1


def test_a_long_move_around_no_wall_is_accepted() -> None:
    driver = walled_driver()
    driver.idle(20)

    driver.move("a", 2.5, 1.5)
    driver.tick()
    driver.idle(20)
    driver.move("a", 7.5, 1.5)  # 5 tiles along the open top row after a second
    driver.tick()

    assert driver.position("a") == (7.5, 1.5)


def test_squeezing_diagonally_past_a_blocked_corner_is_rejected() -> None:
    driver = Driver.create([WALLED])
    driver.join("a", 1, "alpha", 3.9, 4.1)  # tile (3, 4); (4, 4) is a wall, (3, 3) a wall
    driver.tick()

    driver.move("a", 4.1, 3.9)  # into tile (4, 3) past the corner of both walls
    driver.tick()

    assert driver.position("a") == (3.9, 4.1)
    assert driver.sim.cheat_counters("a")["violations"]["wall"] == 1


def test_leaving_the_map_is_a_bounds_violation() -> None:
    driver = Driver.create([open_zone(10)])
    driver.join("a", 1, "alpha", 0.1, 5.0)
    driver.tick()

    driver.move("a", -0.1, 5.0)
    driver.tick()

    assert driver.position("a") == (0.1, 5.0)
    assert driver.sim.cheat_counters("a")["violations"]["bounds"] == 1


def test_a_client_clock_going_backwards_is_a_time_violation() -> None:
    driver = walled_driver()
    driver.move("a", 2.5, 2.3, ct=5000.0)
    driver.tick()

    driver.move("a", 2.5, 2.2, ct=4000.0)
    driver.tick()

    assert driver.position("a") == (2.5, 2.3)
    assert driver.sim.cheat_counters("a")["violations"]["time"] == 1


def test_a_client_clock_running_fast_is_a_time_violation() -> None:
    driver = walled_driver()
    driver.move("a", 2.5, 2.4, ct=1000.0)
    driver.tick()

    # 2 s of client time in one 50 ms tick: it would also buy speed, but time is checked first.
    driver.move("a", 2.5, 2.3, ct=3000.0)
    driver.tick()

    assert driver.sim.cheat_counters("a")["violations"]["time"] == 1


def test_moves_made_before_applying_a_correction_are_dropped_not_counted() -> None:
    driver = walled_driver()
    driver.move("a", 9.0, 2.5)  # rejected: correction 1
    driver.tick()
    assert driver.cids["a"] == 1

    stale = MoveIntent(driver.next_seq("a"), 2.5, 2.4, driver.client_ms(), 0)
    accepted = driver.submit("a", stale)
    driver.tick()

    assert accepted is False
    counters = driver.sim.cheat_counters("a")
    assert counters["stale_moves"] == 1
    assert sum(counters["violations"].values()) == 1
    driver.move("a", 2.5, 2.4)  # tagged with correction 1 by the driver
    driver.tick()
    assert driver.position("a") == (2.5, 2.4)


def test_duplicate_and_out_of_order_seq_are_ignored_and_counted() -> None:
    driver = walled_driver()
    ct = driver.client_ms()

    assert driver.submit("a", MoveIntent(5, 2.5, 2.4, ct))
    assert not driver.submit("a", MoveIntent(5, 2.5, 2.3, ct + 1))
    assert not driver.submit("a", MoveIntent(4, 2.5, 2.3, ct + 2))
    out = driver.tick()

    assert driver.position("a") == (2.5, 2.4)
    assert frame_of(out, "a")["ack"] == 5  # type: ignore[index]
    assert driver.sim.cheat_counters("a")["stale_seq"] == 2


def test_two_moves_in_one_tick_apply_in_order() -> None:
    driver = walled_driver()
    driver.idle(2)
    base = driver.client_ms()

    driver.move("a", 2.5, 2.2, ct=base - 50)
    driver.move("a", 2.5, 1.9, ct=base)
    driver.tick()

    assert driver.position("a") == (2.5, 1.9)
    assert sum(driver.sim.cheat_counters("a")["violations"].values()) == 0


def test_repeated_cheating_is_reported_for_logging_then_kicking() -> None:
    driver = Driver.create(
        [open_zone(100)], suspicion_log_threshold=2.5, suspicion_kick_threshold=4.5
    )
    driver.join("a", 1, "alpha", 50.0, 50.0)
    driver.tick()
    actions = []
    for _ in range(6):
        driver.move("a", 0.5, 50.0)  # a 49.5 tile jump: speed (weight 1 each)
        out = driver.tick()
        actions += [(r.action, r.last_reason) for r in out.suspects]

    assert actions == [("log", "speed"), ("kick", "speed")]
    assert driver.sim.cheat_counters("a")["violations"]["speed"] == 6
    assert 5.9 < driver.sim.cheat_counters("a")["score"] <= 6.0  # decays slowly


def test_a_kicked_player_who_reconnects_is_kicked_again_at_the_next_violation() -> None:
    driver = Driver.create(
        [open_zone(100)], suspicion_log_threshold=2.5, suspicion_kick_threshold=4.5
    )
    driver.join("a", 1, "alpha", 50.0, 50.0)
    driver.tick()
    for _ in range(5):
        driver.move("a", 0.5, 50.0)
        driver.tick()
    driver.sim.detach("a")  # the gateway closed the socket (4007); the grace keeps the entity
    driver.sim.rebind("a", "a2")
    driver.seqs["a2"], driver.cids["a2"] = 0, driver.sim.welcome("a2")["you"]["cor"]
    driver.tick()

    driver.move("a2", 0.5, 50.0)
    out = driver.tick()

    assert [(r.action, r.conn_id) for r in out.suspects] == [("kick", "a2")]


def test_facing_follows_the_step_and_face_intent_sets_it() -> None:
    driver = walled_driver()
    driver.move("a", 2.8, 2.5)  # east
    driver.tick()
    assert driver.sim.snapshot_player("a").facing == 2

    driver.submit("a", FaceIntent(driver.next_seq("a"), 6))
    driver.tick()
    assert driver.sim.snapshot_player("a").facing == 6


def test_stop_is_seen_by_viewers_as_a_field_change() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 10.0, 10.0)
    driver.join("b", 2, "alpha", 12.0, 10.0)
    driver.tick()
    driver.move("a", 10.3, 10.0)
    moving = frame_of(driver.tick(), "b")
    assert moving is not None and {"id": 1, "mv": True} in moving["chg"]

    driver.submit("a", StopIntent(driver.next_seq("a")))
    stopped = frame_of(driver.tick(), "b")

    assert stopped is not None and stopped["chg"] == [{"id": 1, "mv": False}]
    assert "upd" not in stopped or stopped["upd"] == []
