"""Stage stamps of a session's start, for the first-frame benchmark; off unless the server
runs with ``XENON_SSH_STAGES=1``.

Each stamp is one INFO line in the server log, ``stage peer=HOST:PORT NAME t=MS``, where
``MS`` is :func:`time.monotonic` in milliseconds: the clock of every process on the
machine, so a client on the same host lines them up with its own stamps (Python's
``perf_counter`` is the same clock on Linux). Stages, in order: ``connect`` (TCP accepted),
``xe_ask`` (the key proved; XE asked for a session), ``xe_session`` (XE minted it),
``xe_hosts`` (the user's hosts read), ``auth`` (login done), ``shell`` (the pty and shell
granted), ``launch`` (the console asked for), ``forked`` (its process runs),
``first_output`` (its first bytes pumped to the client).
"""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("xenon.ssh")
ENV = "XENON_SSH_STAGES"


def enabled() -> bool:
    """Whether stamps are logged (the environment of the server, read per call: cheap)."""
    return os.environ.get(ENV) == "1"


def stamp(peer: str, name: str) -> None:
    """Logs that the session of ``peer`` reached ``name`` now (when :func:`enabled`)."""
    if enabled():
        log.info("stage peer=%s %s t=%.3f", peer, name, time.monotonic() * 1000)
