"""The demo seed behind `make run`."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from accounts import demo
from accounts.models import User
from tests.accounts.helpers import app_login

pytestmark = pytest.mark.django_db


def test_seed_creates_admin_and_two_players_with_verified_email() -> None:
    summary = demo.seed(known_passwords=True)
    assert "admin / admin" in summary
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser
    for username, password in demo.DEMO_PLAYERS:
        assert app_login(Client(), username=username, password=password).status_code == 200
    assert app_login(Client(), username="admin", password="admin").status_code == 200


def test_seed_is_idempotent() -> None:
    demo.seed(known_passwords=True)
    summary = demo.seed(known_passwords=True)
    assert summary.startswith("demo accounts already present")
    assert User.objects.filter(username__in=["admin", "alice", "bob"]).count() == 3


def test_outside_embedded_mode_no_known_passwords_and_no_admin() -> None:
    summary = demo.seed(known_passwords=False)
    assert "no admin" in summary
    assert not User.objects.filter(username="admin").exists()
    alice = User.objects.get(username="alice")
    assert not alice.has_usable_password()


def test_seed_demo_command_runs_the_accounts_seed(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed_demo")
    assert "accounts:" in capsys.readouterr().out
    assert User.objects.filter(username="alice").exists()
