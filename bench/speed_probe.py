"""How fast this machine's CPU is right now: best of three timings of a fixed pure-Python loop.

The shared host these benchmarks run on changes speed by up to 1.8x from one minute to the next
with no steal time shown (2026-12-07: 35-66 ms for the same loop), so every benchmark prints this
next to its figures; compare runs only at similar probe values (lower = faster).
"""

from __future__ import annotations

import math
import time


def speed_probe_ms(iterations: int = 1_000_000) -> float:
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for number in range(iterations):
            total += number
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


if __name__ == "__main__":
    print(f"speed probe: {speed_probe_ms()} ms")
