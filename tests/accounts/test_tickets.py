from __future__ import annotations

import pytest

from accounts.tickets import ticket_consume, ticket_issue


def test_ticket_is_single_use() -> None:
    ticket = ticket_issue(purpose="world", payload={"character_id": 7})
    assert ticket_consume(purpose="world", ticket=ticket) == {"character_id": 7}
    assert ticket_consume(purpose="world", ticket=ticket) is None


def test_ticket_is_bound_to_its_purpose() -> None:
    ticket = ticket_issue(purpose="world", payload={"character_id": 7})
    assert ticket_consume(purpose="chat", ticket=ticket) is None
    assert ticket_consume(purpose="world", ticket=ticket) == {"character_id": 7}


@pytest.mark.parametrize("garbage", ["", "short", "x" * 500, None, 12])
def test_malformed_ticket_is_refused(garbage: object) -> None:
    assert ticket_consume(purpose="world", ticket=garbage) is None  # type: ignore[arg-type]


def test_expired_ticket_is_refused() -> None:
    ticket = ticket_issue(purpose="world", payload={"a": 1}, ttl_seconds=1)
    from django.core.cache import cache

    cache.clear()  # what expiry does
    assert ticket_consume(purpose="world", ticket=ticket) is None
