"""Admin for accounts. Status fields are read-only here: changing standing must go through the
services (which end the player's sessions and notify the gateway), so it is done with the
suspend / ban / reinstate actions. The GM console in liveops builds on the same services."""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.forms import RestrictAccountsForm
from accounts.models import User
from accounts.services import account_ban, account_reinstate, account_suspend
from mmo_platform.errors import DomainError

_STANDING_FIELDS = ("status", "status_reason", "suspended_until")

# Staff sign in through allauth like everyone else: rate limits, MFA and the standing check
# apply to /admin/ too.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "status", "suspended_until", "region", "is_staff")
    list_filter = ("status", "region", "is_staff", "is_superuser")
    search_fields = ("username", "email")
    readonly_fields = (*_STANDING_FIELDS, "last_login", "date_joined")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Game standing", {"fields": (*_STANDING_FIELDS, "region")}),
    )
    actions = ["suspend_accounts", "ban_accounts", "reinstate_accounts"]

    @admin.action(description="Suspend selected accounts…", permissions=["change"])
    def suspend_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        return self._restrict(request, queryset, action="suspend_accounts", verb="Suspend")

    @admin.action(description="Ban selected accounts…", permissions=["change"])
    def ban_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> Any:
        return self._restrict(request, queryset, action="ban_accounts", verb="Ban")

    @admin.action(description="Reinstate selected accounts", permissions=["change"])
    def reinstate_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        actor, done = _staff(request), 0
        for user in queryset.order_by("pk"):
            account_reinstate(user=user, actor=actor)
            done += 1
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(request, f"Reinstated {done} account(s).", level)

    def _restrict(
        self, request: HttpRequest, queryset: QuerySet[User], *, action: str, verb: str
    ) -> HttpResponse | None:
        needs_duration = action == "suspend_accounts"
        data = request.POST if "apply" in request.POST else None
        form = RestrictAccountsForm(data, needs_duration=needs_duration)
        if data is not None and form.is_valid():
            self._apply_restriction(request, queryset, form)
            return None  # back to the change list
        context = {
            **self.admin_site.each_context(request),
            "title": f"{verb} accounts",
            "verb": verb,
            "action": action,
            "form": form,
            "accounts": queryset.order_by("pk"),
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "accounts/admin/restrict_accounts.html", context)

    def _apply_restriction(
        self, request: HttpRequest, queryset: QuerySet[User], form: RestrictAccountsForm
    ) -> None:
        actor, reason, done = _staff(request), form.cleaned_data["reason"], 0
        for user in queryset.order_by("pk"):
            try:
                if form.needs_duration:
                    until = form.suspended_until()
                    account_suspend(user=user, until=until, reason=reason, actor=actor)
                else:
                    account_ban(user=user, reason=reason, actor=actor)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{user.username}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"Restricted {done} account(s); their sessions ended.")
        elif not queryset.exists():
            self.message_user(request, "No such account: nothing was restricted.", messages.WARNING)


def _staff(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None
