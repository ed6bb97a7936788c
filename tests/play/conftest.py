"""The browser tests run against the same real server as the end-to-end tests: every fixture of
tests/e2e/conftest.py (``live_world`` and whatever it builds on) is available here too."""

from tests.e2e.conftest import *  # noqa: F403
