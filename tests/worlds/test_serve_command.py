"""``manage.py serve --reuse-port``: several production gateway processes on one port, refused
for the embedded world (each process would host a world of its own)."""

from __future__ import annotations

import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from worlds.management.commands.serve import shared_port_socket


@override_settings(WORLD_TRANSPORT="local")
def test_reuse_port_is_refused_for_the_embedded_world() -> None:
    with pytest.raises(CommandError, match="--reuse-port needs the production world"):
        call_command("serve", reuse_port=True, port=0)


def test_two_gateway_sockets_share_one_port_and_both_accept() -> None:
    first = shared_port_socket("127.0.0.1", 0)
    port = first.getsockname()[1]
    second = shared_port_socket("127.0.0.1", port)
    try:
        assert second.getsockname()[1] == port
        for listener in (first, second):
            listener.settimeout(0.01)
        accepted = {first: 0, second: 0}
        for _ in range(32):  # the kernel hashes each connection to one of the two listeners
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                for listener in (first, second):
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        continue
                    conn.close()
                    accepted[listener] += 1
        assert sum(accepted.values()) == 32
        assert min(accepted.values()) > 0  # all on one side: 2 in 2**32 by chance
    finally:
        first.close()
        second.close()


def test_a_plain_socket_cannot_take_a_shared_port() -> None:
    shared = shared_port_socket("127.0.0.1", 0)
    try:
        with socket.socket() as plain, pytest.raises(OSError):
            plain.bind(("127.0.0.1", shared.getsockname()[1]))
    finally:
        shared.close()


@override_settings(WORLD_TRANSPORT="redis", OPS_EMBEDDED_SCHEDULER=True)
def test_reuse_port_is_refused_with_the_embedded_scheduler() -> None:
    with pytest.raises(CommandError, match="every scheduled job once per process"):
        call_command("serve", reuse_port=True, port=0)


@override_settings(WORLD_TRANSPORT="redis", OPS_EMBEDDED_SCHEDULER=False)
def test_a_port_taken_by_a_plain_socket_is_a_clear_error() -> None:
    with socket.socket() as plain:
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        port = plain.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            call_command("serve", reuse_port=True, port=port)
