"""Tunable numbers of the simulation, with the reason for each default.

``SimConfig`` is immutable; a shard builds one at start-up (the adapter may fill it from Django
settings) and passes it to ``ShardSim``. Distances are in tiles (world units), times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EMOTES = frozenset({"wave", "bow", "cheer", "dance", "laugh", "sit", "point", "cry"})


@dataclass(frozen=True)
class SimConfig:
    # Fixed step: 20 Hz, as BrowserQuest-class browser games; 50 ms leaves room for 2 cores.
    tick_hz: int = 20
    # Area of interest. 24 tiles is a bit more than a 1080p screen of 32 px tiles in each
    # direction, so entities appear before they scroll into view.
    view_radius: float = 24.0
    # An entity already in view leaves only beyond view_radius + view_hysteresis, so entities on
    # the border do not flicker in and out.
    view_hysteresis: float = 2.0
    # At most this many other entities per client, nearest first (Ryzom caps at 255).
    aoi_cap: int = 96
    # In a crowd each viewer keeps at most this many candidates (what it sees now, then the
    # nearest others; ADR 0025), so the cost of a crowd grows with viewers x cap, not
    # viewers x crowd. None: twice aoi_cap, room to pick the nearest as the crowd shifts.
    aoi_candidate_cap: int | None = None
    # Interest bookkeeping (see aoi.py): each viewer's candidate set is rebuilt every
    # aoi_refresh_ticks ticks, staggered; candidates are gathered this far beyond the hysteresis
    # border, which must cover how far two entities can close in meanwhile (checked below).
    aoi_refresh_ticks: int = 8
    aoi_candidate_margin: float = 5.5
    # Who-sees-whom is re-evaluated per viewer every this many ticks (staggered): 4 = 5 Hz.
    aoi_visibility_ticks: int = 4
    # Movement and anti-cheat.
    max_speed: float = 6.0  # tiles per second
    # A move may cover max_speed * (client time since the previous move) * move_speed_slack
    # + move_tolerance. The client clock may not run ahead of the server clock by more than
    # clock_drift_tolerance (a "time" violation otherwise), so lying about time buys at most
    # that much extra distance once. At most move_gap_seconds of client time count for one move:
    # a client must send a move at least that often while walking (it may send every tick).
    move_speed_slack: float = 1.05
    move_tolerance: float = 0.25  # tiles, absorbs float rounding and the 0.01 quantisation
    move_gap_seconds: float = 1.0
    path_sample_step: float = 0.25  # tiles between walkability samples along a move
    clock_drift_tolerance: float = 1.0
    # Suspicion score: each violation adds a weight; the score halves every half-life.
    suspicion_weights: dict[str, float] = field(
        default_factory=lambda: {"speed": 1.0, "wall": 2.0, "bounds": 3.0, "time": 2.0}
    )
    suspicion_half_life: float = 60.0
    suspicion_log_threshold: float = 10.0
    suspicion_kick_threshold: float = 30.0
    # Chat and emotes.
    chat_max_length: int = 256
    emotes: frozenset[str] = DEFAULT_EMOTES

    def __post_init__(self) -> None:
        if self.tick_hz <= 0:
            raise ValueError("tick_hz must be positive")
        if self.aoi_cap < 1:
            raise ValueError("aoi_cap must be at least 1")
        if self.candidate_cap < self.aoi_cap:
            raise ValueError("aoi_candidate_cap must be at least aoi_cap")
        if self.aoi_refresh_ticks < 1:
            raise ValueError("aoi_refresh_ticks must be at least 1")
        if self.aoi_visibility_ticks < 1:
            raise ValueError("aoi_visibility_ticks must be at least 1")
        # Between two rebuilds of a viewer's candidates both sides move at most one step bound
        # per two ticks (a longer move re-pairs the mover at once), so the margin must cover it.
        closing = 2 * self.displacement_bound(self.aoi_refresh_ticks)
        if self.aoi_candidate_margin < closing:
            raise ValueError(
                f"aoi_candidate_margin {self.aoi_candidate_margin} must be at least {closing} "
                "(2 * aoi_step_bound * ceil(aoi_refresh_ticks / 2))"
            )

    @property
    def tick_seconds(self) -> float:
        return 1.0 / self.tick_hz

    @property
    def max_step_per_tick(self) -> float:
        """How far an entity walking at full speed gets in one tick (with 10 % slack)."""
        return self.max_speed / self.tick_hz * 1.1

    @property
    def aoi_step_bound(self) -> float:
        """Longest displacement over one tick and over two ticks that the AOI handles
        incrementally; a longer one re-pairs the mover at once. Two ticks' worth of full-speed
        walking, so a client sending a move every other tick (10 Hz, the usual rate) is never
        re-paired, however its moves fall on ticks."""
        return 2 * self.max_step_per_tick

    def displacement_bound(self, ticks: int) -> float:
        """How far an entity that is not re-paired can get in ``ticks`` ticks: the span splits
        into two-tick pieces (and one single tick when odd), each within ``aoi_step_bound``."""
        return self.aoi_step_bound * ((ticks + 1) // 2)

    @property
    def candidate_cap(self) -> int:
        """Most candidates kept per viewer (see aoi.py, ADR 0025)."""
        return 2 * self.aoi_cap if self.aoi_candidate_cap is None else self.aoi_candidate_cap

    @property
    def leave_radius(self) -> float:
        return self.view_radius + self.view_hysteresis

    @property
    def max_visible_distance(self) -> float:
        """No entity farther than this is ever in a client's view (see aoi.py)."""
        return self.leave_radius + self.visibility_lag_distance

    @property
    def visibility_lag_distance(self) -> float:
        """How far two entities can close in or move apart between two visibility passes."""
        return 2 * self.displacement_bound(self.aoi_visibility_ticks - 1)

    @property
    def candidate_radius(self) -> float:
        return self.leave_radius + self.aoi_candidate_margin
