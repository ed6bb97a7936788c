"""The browser tests run against the same real server as the end-to-end tests."""

from tests.e2e.conftest import live_world

__all__ = ["live_world"]
