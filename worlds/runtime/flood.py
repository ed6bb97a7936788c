"""Per-connection flood control: a token bucket plus a strike count (TrinityCore-style budget).

Within budget a frame passes; over it the frame is rejected with an error; a client that keeps
flooding after ``strikes_to_disconnect`` rejections inside ``strike_window`` seconds is cut off.
Pure and O(1): it runs for every frame, so it costs about a microsecond, not a library call.
"""

from __future__ import annotations

import enum


class FloodVerdict(enum.Enum):
    PASS = "pass"
    REJECT = "reject"
    DISCONNECT = "disconnect"


class FloodGuard:
    def __init__(
        self,
        *,
        rate_per_second: float = 30.0,
        burst: float = 45.0,
        strikes_to_disconnect: int = 20,
        strike_window: float = 5.0,
    ) -> None:
        self.rate, self.burst = rate_per_second, burst
        self.tokens = burst
        self.updated: float | None = None
        self.strikes_to_disconnect, self.strike_window = strikes_to_disconnect, strike_window
        self.strikes = 0
        self.first_strike_at = 0.0

    def hit(self, now: float) -> FloodVerdict:
        if self.updated is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return FloodVerdict.PASS
        if now - self.first_strike_at > self.strike_window:
            self.strikes, self.first_strike_at = 0, now
        self.strikes += 1
        if self.strikes >= self.strikes_to_disconnect:
            return FloodVerdict.DISCONNECT
        return FloodVerdict.REJECT
