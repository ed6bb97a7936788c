"""ShardSim as adapters use it: joining, frames, chat, portals, transfers, dirty state, rebind."""

from __future__ import annotations

import pytest

from tests.worlds.test_sim_helpers import (
    Driver,
    enter_ids,
    events,
    frame_of,
    grid_zone,
    leave_ids,
    open_zone,
    state,
    upd_ids,
)
from worlds.sim import (
    ChatIntent,
    DuplicatePlayer,
    EmoteIntent,
    MoveIntent,
    PingIntent,
    Portal,
    ShardSim,
    SimConfig,
    SimError,
    UnknownConnection,
    ZoneNotOwned,
    decode_server_frame,
)


def two_zones() -> list:
    west = grid_zone(
        ["." * 30] * 20,
        "west",
        portals=(Portal("to_east", 29, 10, 1, 1, "east", "from_west"),),
        spawns={"default": (5.5, 5.5), "from_east": (27.5, 10.5)},
    )
    east = grid_zone(
        ["." * 30] * 20,
        "east",
        portals=(Portal("to_west", 0, 10, 1, 1, "west", "from_east"),),
        spawns={"default": (15.5, 5.5), "from_west": (2.5, 10.5)},
    )
    return [west, east]


def test_welcome_describes_protocol_zone_and_own_entity() -> None:
    driver = Driver.create([open_zone(40)])
    entity_id = driver.join("a", 7, "alpha", 10.0, 12.0)

    welcome = driver.sim.welcome("a")

    assert welcome["t"] == "welcome" and welcome["v"] == 1 and welcome["tick_hz"] == 20
    assert welcome["you"]["id"] == entity_id
    assert (welcome["you"]["x"], welcome["you"]["y"], welcome["you"]["cor"]) == (10.0, 12.0, 0)
    assert welcome["zone"]["id"] == "alpha" and welcome["zone"]["w"] == 40
    assert len(welcome["zone"]["tiles"]) == 40
    assert welcome["limits"]["chat_max_length"] == 256


def test_saved_position_on_a_wall_falls_back_to_the_default_spawn() -> None:
    zone = grid_zone(["#####", "#...#", "#####"], spawns={"default": (2.5, 1.5)})
    driver = Driver.create([zone])

    driver.join("a", 1, "alpha", 0.5, 0.5)

    assert driver.position("a") == (2.5, 1.5)


def test_adapter_misuse_raises_sim_errors() -> None:
    driver = Driver.create([open_zone(20)])
    driver.join("a", 1, "alpha", 5.0, 5.0)

    with pytest.raises(DuplicatePlayer):
        driver.join("a", 2, "alpha", 5.0, 5.0)
    with pytest.raises(DuplicatePlayer):
        driver.join("b", 1, "alpha", 5.0, 5.0)
    with pytest.raises(ZoneNotOwned):
        driver.join("c", 3, "nowhere", 5.0, 5.0)
    with pytest.raises(UnknownConnection):
        driver.sim.remove_player("zzz")
    assert driver.submit("zzz", MoveIntent(1, 1.0, 1.0, 1.0)) is False


def test_idle_clients_get_no_frame() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 5.0, 5.0)
    driver.join("b", 2, "alpha", 40.0, 40.0)
    driver.tick()

    out = driver.tick()

    assert len(out.frames) == 0


def test_say_reaches_only_the_area_zone_chat_the_whole_zone() -> None:
    driver = Driver.create([open_zone(100)], view_radius=10.0)
    driver.join("speaker", 1, "alpha", 50.0, 50.0)
    driver.join("near", 2, "alpha", 55.0, 50.0)
    driver.join("far", 3, "alpha", 90.0, 90.0)
    driver.tick()

    driver.submit("speaker", ChatIntent(driver.next_seq("speaker"), "say", "hello"))
    out = driver.tick()

    said = {"e": "chat", "ch": "say", "from": 1, "name": "p1", "text": "hello"}
    assert events(frame_of(out, "speaker"), "chat") == [said]
    assert events(frame_of(out, "near"), "chat") == [said]
    assert frame_of(out, "far") is None
    assert [(r.character_id, r.zone_id, r.channel, r.text) for r in out.chat] == [
        (1, "alpha", "say", "hello")
    ]
    assert out.chat[0].at == out.now

    driver.submit("far", ChatIntent(driver.next_seq("far"), "zone", "anyone?"))
    out = driver.tick()
    assert all(len(events(frame_of(out, c), "chat")) == 1 for c in ("speaker", "near", "far"))
    assert [(r.character_id, r.text) for r in out.chat] == [(3, "anyone?")]
    assert driver.tick().chat == []  # handed over once


def test_emotes_and_unknown_emotes() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 10.0, 10.0)
    driver.join("b", 2, "alpha", 12.0, 10.0)
    driver.tick()

    driver.submit("a", EmoteIntent(driver.next_seq("a"), "wave"))
    driver.submit("a", EmoteIntent(driver.next_seq("a"), "moonwalk"))
    out = driver.tick()

    assert events(frame_of(out, "b"), "emote") == [{"e": "emote", "from": 1, "emote": "wave"}]
    errors = events(frame_of(out, "a"), "error")
    assert [(e["code"], e["seq"]) for e in errors] == [("unknown_emote", 2)]
    assert events(frame_of(out, "b"), "error") == []


def test_ping_is_answered_and_rtt_measured_on_the_server_clock() -> None:
    driver = Driver.create([open_zone(20)])
    driver.join("a", 1, "alpha", 5.0, 5.0)
    driver.tick()

    driver.submit("a", PingIntent(driver.next_seq("a"), ct=1234.5))
    pong = events(frame_of(driver.tick(), "a"), "pong")[0]
    assert pong["ct"] == 1234.5 and pong["st"] == pytest.approx(driver.now * 1000)

    driver.idle(4)  # 200 ms later the client returns the pong, having held it for 120 ms
    driver.submit("a", PingIntent(driver.next_seq("a"), ct=2000.0, echo=pong["st"], held=120.0))
    driver.tick()
    assert driver.sim.rtt_ms("a") == pytest.approx(250.0 - 120.0)


def test_an_unknown_intent_object_gets_an_error_event_not_an_exception() -> None:
    class Dance:
        seq = 1

    driver = Driver.create([open_zone(20)])
    driver.join("a", 1, "alpha", 5.0, 5.0)

    driver.submit("a", Dance())
    frame = frame_of(driver.tick(), "a")

    assert [e["code"] for e in events(frame, "error")] == ["unknown_intent"]


def test_portal_to_an_owned_zone_moves_the_player_inside_the_shard() -> None:
    driver = Driver.create(two_zones())
    walker = driver.join("walker", 1, "west", 28.7, 10.5)
    driver.join("west_friend", 2, "west", 25.0, 10.5)
    driver.join("east_friend", 3, "east", 4.0, 10.5)
    driver.tick()

    driver.move("walker", 29.0, 10.5)
    out = driver.tick()

    frame = frame_of(out, "walker")
    zone_event = events(frame, "zone")[0]
    assert zone_event["zone"]["id"] == "east" and zone_event["zone"]["w"] == 30
    assert (zone_event["x"], zone_event["y"], zone_event["cor"]) == (2.5, 10.5, 1)
    assert driver.sim.snapshot_player("walker").zone == "east"
    assert leave_ids(frame_of(out, "west_friend")) == {walker}
    assert walker in enter_ids(frame_of(out, "east_friend"))
    assert enter_ids(frame) == {3}
    assert out.transfers == []
    # A move still aimed at the old zone (old correction id) is dropped.
    stale = MoveIntent(driver.next_seq("walker"), 28.5, 10.5, driver.client_ms(), 0)
    assert driver.submit("walker", stale) is False


def test_portal_to_a_zone_of_another_shard_hands_the_player_off() -> None:
    driver = Driver.create(two_zones(), owned={"west"})
    walker = driver.join("walker", 1, "west", 28.7, 10.5)
    driver.join("friend", 2, "west", 25.0, 10.5)
    driver.tick()

    driver.move("walker", 29.0, 10.5)
    out = driver.tick()

    [transfer] = out.transfers
    assert (transfer.conn_id, transfer.entity_id, transfer.from_zone) == ("walker", walker, "west")
    assert (transfer.state.zone, transfer.state.x, transfer.state.y) == ("east", 2.5, 10.5)
    assert transfer.state.character_id == 1 and transfer.to_spawn == "from_west"
    assert not driver.sim.has_player("walker")
    assert "walker" not in out.frames
    assert leave_ids(frame_of(out, "friend")) == {walker}


def test_dirty_states_are_drained_once() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 10.0, 10.0)
    driver.join("b", 2, "alpha", 30.0, 30.0)
    driver.tick()

    driver.move("a", 10.3, 10.0)
    out = driver.tick()

    assert out.dirty_count == 1
    [saved] = driver.sim.drain_dirty()
    assert (saved.character_id, saved.x, saved.y, saved.zone) == (1, 10.3, 10.0, "alpha")
    assert driver.sim.drain_dirty() == []


def test_remove_player_returns_the_final_state() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 10.0, 10.0)
    driver.tick()
    driver.move("a", 10.2, 10.1)
    driver.tick()

    final = driver.sim.remove_player("a")

    assert (final.x, final.y, final.facing) == (10.2, 10.1, 3)
    assert not driver.sim.has_player("a")


def test_rebind_resumes_the_entity_and_resends_everything_visible() -> None:
    driver = Driver.create([open_zone(50)])
    me = driver.join("old", 1, "alpha", 10.0, 10.0)
    other = driver.join("other", 2, "alpha", 12.0, 10.0)
    driver.tick()
    driver.sim.detach("old")
    driver.move("other", 12.2, 10.0)
    assert "old" not in driver.tick().frames

    assert driver.sim.rebind("old", "new", encoding="msgpack") == me
    driver.seqs["new"], driver.cids["new"] = 0, driver.sim.welcome("new")["you"]["cor"]
    out = driver.tick()

    frame = decode_server_frame(out.frames["new"], "msgpack")
    assert enter_ids(frame) == {other} and other in upd_ids(frame)
    assert not driver.sim.has_player("old")
    driver.move("new", 10.2, 10.0)  # seq starts again at 1 on the new connection
    driver.tick()
    assert driver.position("new") == (10.2, 10.0)


def test_json_and_msgpack_clients_get_the_same_content() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("j", 1, "alpha", 10.0, 10.0, encoding="json")
    driver.join("m", 2, "alpha", 10.0, 11.0, encoding="msgpack")
    mover = driver.join("mover", 3, "alpha", 12.0, 10.5)
    driver.tick()
    for step in range(3):
        driver.move("mover", 12.0 + 0.25 * (step + 1), 10.5)
        out = driver.tick()
        as_json = decode_server_frame(out.frames["j"], "json")
        as_msgpack = decode_server_frame(out.frames["m"], "msgpack")
        assert as_json["upd"] == as_msgpack["upd"] == [[mover, 12.0 + 0.25 * (step + 1), 10.5, 2]]
        assert as_json["tick"] == as_msgpack["tick"]


def run_script() -> list[tuple[str, bytes]]:
    driver = Driver.create(two_zones())
    for i in range(6):
        driver.join(f"c{i}", i + 1, "west", 20.0 + i, 10.5, encoding=("json", "msgpack")[i % 2])
    frames = []
    for tick in range(30):
        for i in range(6):
            x, y = driver.position(f"c{i}")
            driver.move(f"c{i}", x + (0.29 if (tick + i) % 7 else 3.0), y)
            if tick % 5 == i:
                driver.submit(f"c{i}", ChatIntent(driver.next_seq(f"c{i}"), "say", "hi"))
        out = driver.tick()
        frames += sorted((conn, out.frames[conn]) for conn in out.frames)
    return frames


def test_same_inputs_give_the_same_frames() -> None:
    first = run_script()

    assert first == run_script()
    assert len(first) > 100


def test_shard_rejects_owned_zones_without_maps() -> None:
    with pytest.raises(ZoneNotOwned):
        ShardSim({"alpha": open_zone(10)}, SimConfig(), owned_zones={"beta"})


def test_shard_needs_the_maps_its_portals_lead_to() -> None:
    west, east = two_zones()

    with pytest.raises(SimError, match="west:to_east->east"):
        ShardSim({"west": west}, SimConfig())
    ShardSim({"west": west, "east": east}, SimConfig(), owned_zones={"west"})


def test_state_helper_matches_player_state_fields() -> None:
    assert state(1, "alpha", 1.0, 2.0).name == "p1"


def test_ack_covers_refused_and_dropped_intents() -> None:
    driver = Driver.create([open_zone(50)])
    driver.join("a", 1, "alpha", 10.0, 10.0)
    driver.tick()

    # The adapter refused seq 3 before the sim saw it (e.g. a field out of range).
    driver.sim.report_error("a", "invalid_intent", "move: field 'x' is bad", 3)
    frame = frame_of(driver.tick(), "a")
    assert frame is not None and frame["ack"] == 3
    assert [(e["code"], e["seq"]) for e in events(frame, "error")] == [("invalid_intent", 3)]
    driver.seqs["a"] = 3

    # A refused move brings a correction; a move still tagged with the old cid is dropped...
    driver.move("a", 40.0, 10.0)  # seq 4: too far (speed)
    assert frame_of(driver.tick(), "a")["you"]["cor"] == 1
    stale = MoveIntent(driver.next_seq("a"), 10.1, 10.0, driver.client_ms(), 0)  # seq 5, cid 0
    assert driver.submit("a", stale) is False
    frame = frame_of(driver.tick(), "a")
    # ... but still acknowledged, so a client reconciling on ack does not replay it forever.
    assert frame is not None and frame["ack"] == 5
