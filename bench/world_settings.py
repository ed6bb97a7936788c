"""Settings for the end-to-end world benchmark (bench/world_load.py).

The shipped settings of the deployment under test (``BENCH_DEPLOYMENT``: ``embedded`` or
``production``), with two differences only:

- ``CONTENT_DIR`` points at the bench content (``BENCH_CONTENT_DIR``): the shipped content plus
  large open zones, so players can spread out far enough that each sees a bounded neighbourhood
  (the shipped zones are at most 128 x 128 tiles: 1,000 players there all see each other).
- embedded only: the local-memory cache holds 20,000 entries instead of Django's default 300.
  World tickets live in that cache until redeemed; with the default, joining more than ~300
  players within one ticket lifetime evicts earlier tickets ("invalid_ticket" at the socket).
  Reported as a finding in docs/benchmarks.md.
- ``BENCH_LIFT_LOGIN_LIMIT=1`` lifts allauth's per-IP login limit (30/min) for the HTTP login
  measurement, where every bot logs in from 127.0.0.1; real players come from many addresses.
"""

from __future__ import annotations

import os
from pathlib import Path

if os.environ.get("BENCH_DEPLOYMENT", "embedded") == "production":
    from mmo_platform.settings.production import *  # noqa: F403
else:
    from mmo_platform.settings.embedded import *  # noqa: F403

CONTENT_DIR = Path(os.environ["BENCH_CONTENT_DIR"])

if CACHES["default"]["BACKEND"].endswith("LocMemCache"):  # noqa: F405
    CACHES["default"]["OPTIONS"] = {"MAX_ENTRIES": 20_000}  # noqa: F405

if os.environ.get("BENCH_LIFT_LOGIN_LIMIT") == "1":
    ACCOUNT_RATE_LIMITS = {**ACCOUNT_RATE_LIMITS, "login": "100000/m/ip"}  # noqa: F405
