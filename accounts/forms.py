"""Forms of the accounts app (admin actions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import STATUS_REASON_MAX_LENGTH
from mmo_platform.text import has_hidden_characters

SUSPENSION_CHOICES = [
    ("1", "1 hour"),
    ("24", "24 hours"),
    ("72", "3 days"),
    ("168", "7 days"),
    ("720", "30 days"),
]


class RestrictAccountsForm(forms.Form):
    """Reason (shown to the player) and, for suspensions, how long."""

    reason = forms.CharField(
        max_length=STATUS_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Shown to the player whenever they try to log in or play.",
    )
    hours = forms.TypedChoiceField(
        choices=SUSPENSION_CHOICES, coerce=int, required=False, label="Suspend for"
    )

    def __init__(self, *args: Any, needs_duration: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.needs_duration = needs_duration
        if not needs_duration:
            del self.fields["hours"]
        else:
            self.fields["hours"].required = True

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"]
        if has_hidden_characters(reason, allow_line_breaks=True):
            raise forms.ValidationError(
                "The reason may not hold control or invisible formatting characters."
            )
        return reason

    def suspended_until(self) -> Any:
        return timezone.now() + timedelta(hours=self.cleaned_data["hours"])
