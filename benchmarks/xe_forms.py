"""What Add domain (``a`` on the Enterprise screen) waits for before its form shows.

``python -m benchmarks.xe_forms --json`` measures the two parts of the open (issue #13,
the §4.2 walk: 2-3 s with nothing shown over SSH): ``seclabel_read_ms``, the read the flow
makes before it builds the form (the enclave's SecLabels through the real XE client and
API, in-process over ASGI, SQLite, the report's §4.2 policy), and ``dialog_open_ms``, from
pushing :class:`AddDomainDialog` in a headless console-sized app (160x48) until its first
field has the focus, beside ``plain_form_open_ms`` (a :class:`FormDialog` of as many
plain text fields: what the form's Select fields and styles add). Medians and maxima of
``--rounds`` (default 15); the load average is reported beside them (the box is shared).
One JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from textual.app import App
from textual.widgets import Input

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import PasswordHasher, Principal, ServiceConfig, Services
from xenon_tui.dialogs._form import Field, FormDialog
from xenon_tui.dialogs._xe_forms import AddDomainDialog

PASSWORD = "xe-forms-benchmark-password"


def _progress(message: str) -> None:
    print(f"[xe_forms] {message}", file=sys.stderr, flush=True)


def _stats(name: str, samples: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": round(statistics.median(samples), 1),
        f"{name}_max_ms": round(max(samples), 1),
    }


async def _seclabel_reads(rounds: int) -> tuple[list[float], list[tuple[str, str]], Any]:
    state = Path(tempfile.mkdtemp(prefix="xe-forms-"))
    services = await Services.open(
        f"sqlite:///{state / 'xe.db'}", config=ServiceConfig(hasher=PasswordHasher(n=2**12))
    )
    try:
        await services.users.bootstrap_admin("root", PASSWORD)
        hosts = {f"xenon-{i}": ("127.0.0.1", i) for i in (1, 2, 3)}  # never dialled
        await services.policy.import_policy(Principal.system(), sample_xe_policy(hosts))
        transport = httpx.ASGITransport(app=create_app(services), client=("192.0.2.30", 4711))
        async with XeClient("http://xe.bench", transport=transport, timeout=60) as client:
            await client.login("root", PASSWORD)
            enclave = (await services.policy.current()).enclaves[0]
            samples, labels = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                labels = [s async for s in client.policy.iter_seclabels(enclave=str(enclave.id))]
                samples.append((time.perf_counter() - start) * 1000)
            shown = [(f"{s.name} — {s.profile_name or s.profile}", s.id) for s in labels]
            return samples, shown, enclave.name
    finally:
        await services.close()


async def _dialog_opens(
    rounds: int, labels: list[tuple[str, str]], enclave: str
) -> tuple[list[float], list[float]]:
    hosts = [(f"xenon-{i}", f"host-{i}") for i in (1, 2, 3)]
    forms: list[float] = []
    plain: list[float] = []
    app: App[None] = App()
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(rounds):
            for samples, dialog in (
                (forms, AddDomainDialog(enclave, labels, hosts, "xenon-1")),
                (plain, FormDialog("Plain", [Field(f"f{i}", f"F{i}") for i in range(14)], dict)),
            ):
                start = time.perf_counter()
                app.push_screen(dialog)
                while not (app.screen is dialog and isinstance(dialog.focused, Input)):
                    await pilot.pause(0)
                samples.append((time.perf_counter() - start) * 1000)
                dialog.dismiss(None)
                while app.screen is dialog:
                    await pilot.pause(0)
    return forms, plain


async def run(rounds: int) -> dict[str, Any]:
    _progress(f"reading the SecLabels {rounds} times")
    reads, labels, enclave = await _seclabel_reads(rounds)
    _progress(f"opening the form {rounds} times")
    opens, plain = await _dialog_opens(rounds, labels, enclave)
    return {
        **_stats("seclabel_read", reads),
        **_stats("dialog_open", opens),
        **_stats("plain_form_open", plain),
        "rounds": rounds,
        "load_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object, last line")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    result = asyncio.run(run(max(1, args.rounds)))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
