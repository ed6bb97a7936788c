"""Signals other areas hook into without importing our internals.

``account_standing_changed`` is sent *after commit* whenever a service suspends, bans or
reinstates an account. Receiver: the world gateway (close the player's live connections); the
GM audit record is written by the service itself, in its transaction. Arguments: ``user``,
``actor`` (the staff member, or None for the system), ``status``, ``reason``, ``until``
(suspension end or None).
"""

from __future__ import annotations

from django.dispatch import Signal

account_standing_changed = Signal()
