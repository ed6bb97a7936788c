"""Signals other apps may listen to (sent after commit)."""

from django.dispatch import Signal

# Sent once per character when its restore window ended and it was purged. kwargs: character_id.
# Receivers clean up what they own for it (inventories, mail, guild membership...).
character_purged = Signal()
