"""Loopback port helpers: every embedded process binds 127.0.0.1 only."""

from __future__ import annotations

import socket
from collections.abc import Iterable

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A port the kernel considers free right now.

    Another process may take it before ours binds it; callers that start servers treat a
    failed bind as retryable when they chose the port themselves.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct free ports (all held open while choosing, so none repeats)."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a server could listen on `port` now.

    SO_REUSEADDR as servers set it: a recently closed port lingering in TIME_WAIT is
    free for them, only a live listener is not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def tcp_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_or_free(port: int, taken: Iterable[int] = (), host: str = LOOPBACK) -> int:
    """`port` if nothing listens there and it is not in `taken`, else another free one."""
    avoid = set(taken)
    if port not in avoid and port_is_free(port, host):
        return port
    while (other := free_port(host)) in avoid:
        pass
    return other
