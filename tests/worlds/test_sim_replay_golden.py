"""Frames of a busy deterministic scenario stay what they were (as sets per list).

The golden digests were recorded with the simulation core of commit 434de5b (before the data
structure changes of ADR 0024) by
``bench/sim_replay.py --players 250 --ticks 80 --digest`` (``--width 1000`` for the wide
zone, whose 4-digit coordinates take another rendering path). An optimisation must not change
them; a deliberate protocol change re-records them (and says so in its commit). Re-recorded
once since: ADR 0026 (the AOI's step bound spans two ticks, so fewer movers are re-paired and
some entities enter or leave a view a few ticks later, within the documented bounds).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench.sim_replay import replay

DATA = Path(__file__).parent / "data"


def _digests(players: int, ticks: int, width: int) -> list[str]:
    digests: dict[int, hashlib._Hash] = {}
    for line in replay(players, ticks, seed=11, width=width):
        tick = int(line.split(b" ", 1)[0])
        digests.setdefault(tick, hashlib.sha256()).update(line + b"\n")
    return [f"{tick} {digest.hexdigest()[:16]}" for tick, digest in sorted(digests.items())]


@pytest.mark.parametrize(
    ("width", "golden"), [(160, "sim_replay_golden.txt"), (1000, "sim_replay_golden_wide.txt")]
)
def test_replayed_frames_match_the_golden_digests(width: int, golden: str) -> None:
    expected = (DATA / golden).read_text().split("\n")[:-1]
    actual = _digests(players=250, ticks=80, width=width)
    mismatched = [e.split()[0] for e, a in zip(expected, actual, strict=True) if e != a]
    assert not mismatched, f"frames differ from the golden replay in ticks {mismatched[:10]}"
