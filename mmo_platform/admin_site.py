"""The GM console's admin site: Django's, with one more check at the door of every admin view.

An admin action posts the ids it applies to (``_selected_action``); Django casts them in the
database query, so a tampered value (``abc``, an id past the column's range) was a 500. Here
every selected id is checked against the model's primary key first, and a bad one is an error
message with nothing done."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

View = Callable[..., HttpResponse]
_V = TypeVar("_V", bound=Callable[..., Any])


class GameAdminSite(admin.AdminSite):
    def admin_view(self, view: _V, cacheable: bool = False) -> _V:
        return super().admin_view(cast(_V, _selection_checked(view)), cacheable)


class GameAdminConfig(AdminConfig):
    default_site = "mmo_platform.admin_site.GameAdminSite"


def _selection_checked(view: View) -> View:
    model_admin = getattr(view, "__self__", None)
    model: type[Model] | None = getattr(model_admin, "model", None)
    if model is None:
        return view

    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
            if not all(_is_primary_key(model, value) for value in selected):
                messages.error(
                    request, "The selection holds a value that is not a valid id: nothing was done."
                )
                return HttpResponseRedirect(request.get_full_path())
        return view(request, *args, **kwargs)

    return checked


def _is_primary_key(model: type[Model], value: str) -> bool:
    field = model._meta.pk
    assert field is not None
    try:
        key = field.to_python(value)
    except ValidationError:
        return False
    if not isinstance(key, int):
        return key is not None
    try:
        low, high = connection.ops.integer_field_range(field.get_internal_type())
    except KeyError:  # an integer type the backend sets no range for
        return True
    return (low is None or low <= key) and (high is None or key <= high)
