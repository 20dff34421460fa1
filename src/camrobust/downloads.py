"""Downloads that fail fast and say what to place where.

Weights and datasets come from the network only when they are not already on disk. Before a
download starts, a TCP connection to the host is tried for :data:`PROBE_TIMEOUT_S` seconds; a
machine without network gets a :class:`DownloadError` within seconds, whose message names the
file and where to put it, instead of a long hang in a retry loop.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TypeVar

PROBE_TIMEOUT_S = 3.0
"""Seconds to wait for a TCP connection to the download host."""
TRANSFER_TIMEOUT_S = 30.0
"""Socket timeout while a download runs."""

T = TypeVar("T")


class DownloadError(RuntimeError):
    """A download failed (usually: no network); the message says what to place where."""


def reachable(host: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """True when a TCP connection to ``host``:443 opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_or_explain(
    download: Callable[[], T], host: str, placement: str, *, error: type[DownloadError] = DownloadError
) -> T:
    """Run ``download`` with a short socket timeout, after checking ``host`` is reachable; a failure
    raises ``error`` (a :class:`DownloadError`) whose message ends with ``placement``."""
    if not reachable(host):
        raise error(f"no network to reach {host}; {placement}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(TRANSFER_TIMEOUT_S)
    try:
        return download()
    except (OSError, RuntimeError) as failure:
        raise error(f"download from {host} failed ({failure}); {placement}") from failure
    finally:
        socket.setdefaulttimeout(previous)
