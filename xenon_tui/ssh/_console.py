"""What a console process runs: the Xenon console, built for the session's role."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
from typing import Any

from xenon_tui.ssh._child import APOLOGY, open_log
from xenon_tui.ssh._sharing import share_parsed_css, trim_periodically
from xenon_tui.ssh._spec import SessionInfo

log = logging.getLogger("xenon.ssh")


def run_textual(app: Any, info: SessionInfo) -> int:
    """Runs a Textual app on this process's terminal with its error output in the log.

    Textual prints a crash's traceback, with locals, on its error console; over SSH
    that console would be the user's screen.
    """
    from rich.console import Console

    from xenon_tui.ssh._driver import SessionDriver

    log = open_log(info.log_path)
    app.driver_class = SessionDriver  # no input polling while idle (see _driver)
    app.error_console = Console(file=log, markup=False, highlight=False, width=120)
    try:
        asyncio.run(_serve(app))
    finally:
        with contextlib.suppress(OSError):
            log.flush()
    if getattr(app, "_exception", None) is not None:
        # A crash: Textual has written the details to the log; say where, in one line.
        with contextlib.suppress(OSError):
            os.write(2, APOLOGY.encode())
    return int(app.return_code or 0)


async def _serve(app: Any) -> None:
    """``app.run()``, plus a task that returns freed heap pages to the kernel."""
    trimmer = asyncio.create_task(trim_periodically())
    try:
        await app.run_async()
    finally:
        trimmer.cancel()


def warm_up(app: Any, views: str = "") -> None:
    """Runs ``app`` headless once, so the modules, caches and tables a first frame needs
    are built in the zygote and shared copy-on-write by every console it forks."""
    import asyncio

    import rich._unicode_data

    rich._unicode_data.load("auto")

    async def once() -> None:
        # Tooltips and notifications on, as in a session: their CSS is parsed here too.
        async with app.run_test(size=(100, 30), tooltips=True, notifications=True) as pilot:
            await pilot.pause()
            for key in views:
                await pilot.press(key)
                await pilot.pause()

    asyncio.run(once())


def preload() -> None:
    """Called by the zygote before it forks: load and exercise the console once."""
    from xenon_tui.app import XenonConsole
    from xenon_tui.ssh._consolecfg import console_config

    share_parsed_css()
    importlib.import_module("xenon_tui.ssh._driver")  # every console's terminal driver
    warm_up(XenonConsole(console_config({"servers": [], "read_only": True})), "234615")
    # The Enterprise view's code and XE's client models, imported once here rather than
    # by every XE user's session (about a second each on a busy machine).
    importlib.import_module("xenon_tui.screens._enterprise")
    importlib.import_module("enterprise_store.client")
    # ... and its screen mounted once, so its widgets' CSS is parsed and applied here (the
    # first layout of the Enterprise screen was most of an XE session's first frame). XE is
    # an address that refuses connections: the poll fails at once, nothing leaves the host.
    from xenon_tui._xe import XeLink

    link = XeLink(url="http://127.0.0.1:9", token="", user="warm-up", role="operator")
    try:
        warm_up(XenonConsole(console_config({"servers": [], "read_only": True}), xe=link))
    except Exception:  # a warm-up that fails costs speed, never the server
        log.warning("the Enterprise view's warm-up failed", exc_info=True)
    # DataTable caches cell styles per table in a class-level lru_cache: it would keep the
    # warm-up's VM table (and through it its console) alive, immortal in every console.
    from textual.widgets import DataTable

    DataTable._get_styles_to_render_cell.cache_clear()


def xe_link(info: SessionInfo) -> Any:
    """The session's link to XE (an XE user's session), else ``None``."""
    if info.xe is None or not info.xe_token:
        return None
    from pathlib import Path

    from xenon_tui._xe import XeLink

    ca = info.xe.get("ca")
    return XeLink(
        url=str(info.xe["url"]),
        token=info.xe_token,
        user=str(info.xe["user"]),
        role=str(info.xe["role"]),
        ca_file=Path(ca) if ca else None,
    )


def run(info: SessionInfo) -> int:
    """Runs the Xenon console for one SSH session (read-only role = read-only sockets);
    an XE user's console acts as that user in XE, with the token XE minted for it."""
    from xenon_tui.app import XenonConsole
    from xenon_tui.ssh._consolecfg import console_config

    link = xe_link(info)
    extra = {} if link is None else {"xe": link}
    app = XenonConsole(console_config(info.console), **extra)
    app.console_user = info.user  # the name hosts log with what this console asks
    return run_textual(app, info)
