"""Frames of a busy deterministic scenario stay what they were (as sets per list).

The golden digests were recorded with the simulation core of commit 434de5b (before the data
structure changes of ADR 0024) by
``bench/sim_replay.py --players 250 --ticks 80 --digest``. An optimisation must not change
them; a deliberate protocol change re-records them (and says so in its commit).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bench.sim_replay import replay

GOLDEN = Path(__file__).parent / "data" / "sim_replay_golden.txt"


def _digests(players: int, ticks: int) -> list[str]:
    digests: dict[int, hashlib._Hash] = {}
    for line in replay(players, ticks, seed=11):
        tick = int(line.split(b" ", 1)[0])
        digests.setdefault(tick, hashlib.sha256()).update(line + b"\n")
    return [f"{tick} {digest.hexdigest()[:16]}" for tick, digest in sorted(digests.items())]


def test_replayed_frames_match_the_golden_digests() -> None:
    expected = GOLDEN.read_text().split("\n")[:-1]
    actual = _digests(players=250, ticks=80)
    mismatched = [e.split()[0] for e, a in zip(expected, actual, strict=True) if e != a]
    assert not mismatched, f"frames differ from the golden replay in ticks {mismatched[:10]}"
