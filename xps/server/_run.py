"""Run the daemon with the real host: open the Host, serve until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from xps.server._config import ServerConfig
from xps.server._daemon import XpsServer
from xps.server._handlers import host_handlers
from xps.server._logging import lean_log_records, remove_logging, setup_logging
from xps.server._resources import raise_fd_limit, return_freed_memory

log = logging.getLogger("xps.server")


async def run_daemon(config: ServerConfig, *, stop: asyncio.Event | None = None) -> None:
    """Opens the host, serves both sockets until ``stop`` is set or a signal arrives.

    Raises:
        ServerError: The daemon could not start (bad TLS material, port in use, ...).
        HostError: The host could not be opened.
    """
    from xps.host import Host, HostConfig  # heavy (loads the C module): only when serving

    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lean_log_records()
    handlers = setup_logging(config.resolved_log_file, stderr=config.log_stderr)
    raise_fd_limit(config.max_clients + config.max_unauthenticated + 256)
    return_freed_memory()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        log.info("Starting Xenon Policy Server (backend %s)", config.backend)
        host = await Host.open(
            HostConfig(
                state_dir=config.state_dir,
                backend=config.backend,
                seed=config.seed,
                stats_interval_s=config.stats_interval_s,
                hostname=config.hostname,
                policy_trust=config.tls.ca,
            )
        )
        try:
            server = XpsServer(config, host_handlers(host), event_source=host.subscribe)
            async with server:
                await stop.wait()
        finally:
            await host.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        remove_logging(handlers)
