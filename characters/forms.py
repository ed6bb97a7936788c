"""Portal form for character creation. It only shapes the input; every rule is the service's
(``character_create``), whose refusals are attached to the matching field."""

from __future__ import annotations

from typing import Any

from django import forms

from characters.content import get_character_content
from characters.services import NAME_MAX_LENGTH, NAME_MIN_LENGTH
from worlds.models import Realm

# Service field names -> form field names.
ERROR_FIELDS = {"name": "name", "realm": "realm", "class_id": "class_id", "race_id": "race_id"}


class CharacterCreateForm(forms.Form):
    realm = forms.ChoiceField(label="Realm")
    name = forms.CharField(
        label="Name",
        max_length=64,
        help_text=(
            f"{NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} letters A-Z, no spaces or digits; unique on "
            "the realm. Stored with one capital first letter."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "data-min": NAME_MIN_LENGTH,
                "data-max": NAME_MAX_LENGTH,
            }
        ),
    )
    class_id = forms.ChoiceField(label="Class", widget=forms.RadioSelect)
    race_id = forms.ChoiceField(label="Race", widget=forms.RadioSelect)
    body = forms.TypedChoiceField(label="Body", coerce=int)
    hair = forms.TypedChoiceField(label="Hair style", coerce=int)
    color = forms.ChoiceField(label="Color")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        content = get_character_content()
        options = content.appearance
        self.fields["realm"].choices = [  # type: ignore[attr-defined]
            (realm.slug, f"{realm.name} ({realm.region.upper()}, {realm.get_kind_display()})")
            for realm in Realm.objects.filter(is_open=True).order_by("name")
        ]
        self.fields["class_id"].choices = [  # type: ignore[attr-defined]
            (c.id, f"{c.name} — {c.description}") for c in content.classes.values()
        ]
        self.fields["race_id"].choices = [  # type: ignore[attr-defined]
            (r.id, f"{r.name} — {r.description}") for r in content.races.values()
        ]
        self.fields["body"].choices = [  # type: ignore[attr-defined]
            (n, f"Body {n}") for n in range(options.body_min, options.body_max + 1)
        ]
        self.fields["hair"].choices = [  # type: ignore[attr-defined]
            (n, f"Hair {n}") for n in range(options.hair_min, options.hair_max + 1)
        ]
        self.fields["color"].choices = [  # type: ignore[attr-defined]
            (key, key.title()) for key in options.colors
        ]

    def appearance(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"body": data["body"], "hair": data["hair"], "color": data["color"]}
