"""How long the Enterprise screen's forms take to open (issue #13: Add domain took 2-3 s
over SSH with nothing shown).

``python -m benchmarks.xe_forms --json`` measures ``seclabel_read_ms``, the read Add domain
makes before it builds its form (the enclave's SecLabels through the real XE client and
API, in-process over ASGI, SQLite, the report's §4.2 policy), then, for each form, in a
headless console-sized app (160x48), from pushing the dialog until

- ``<form>_frame_ms``: its first frame is drawn (what a person sees first), and
- ``<form>_ready_ms``: a field has the focus (keys typed from then on land in it), and
  ``<form>_ready_cpu_ms`` the CPU time this process spent meanwhile (steadier than the
  wall clock on a shared box: it leaves out the time other processes had the cores),

for Add domain, Add host, Add enclave, Add SecLabel, Configure domain… and a plain
:class:`FormDialog` of fourteen text fields; ``<form>_widgets`` is the number of widgets
the form has once ready. The forms are opened round-robin (``--rounds``, default 15), so a
change of the machine's load touches each alike; medians and maxima are reported with the
load average (the box is shared). One JSON object on the last line.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import RenderableType
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input, Select, TextArea

from enterprise_store.api import create_app
from enterprise_store.client import XeClient
from enterprise_store.policy import sample_xe_policy
from enterprise_store.services import PasswordHasher, Principal, ServiceConfig, Services
from xenon_tui.dialogs._form import Field, FormDialog
from xenon_tui.dialogs._xe_config import ConfigureVmDialog, Network, VmSettings
from xenon_tui.dialogs._xe_forms import (
    AddDomainDialog,
    AddEnclaveDialog,
    AddHostDialog,
    AddSecLabelDialog,
)

PASSWORD = "xe-forms-benchmark-password"
FIELDS = (Input, Select, TextArea)
"""What a form focuses once it is ready for keys."""


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


class _FrameApp(App[None]):
    """Notes when a screen's frame is first drawn (headless: composed, then dropped)."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: dict[int, float] = {}

    def _display(self, screen: Screen[Any], renderable: RenderableType | None) -> None:
        if renderable is not None:
            self.drawn.setdefault(id(screen), time.perf_counter())
        super()._display(screen, renderable)


def _forms(labels: list[tuple[str, str]], enclave: str) -> dict[str, Callable[[], Screen[Any]]]:
    hosts = [(f"xenon-{i}", f"host-{i}") for i in (1, 2, 3)]
    enclaves = [(f"Enclave {c}", f"enclave-{c}") for c in "ABC"]
    profiles = [(f"P{i}-Combined (pv)", f"profile-{i}") for i in range(10)]
    settings = VmSettings(Network(), (("vcpus", "1"), ("on_crash", "destroy")))
    return {
        "add_domain": lambda: AddDomainDialog(enclave, labels, hosts, "xenon-1"),
        "add_host": AddHostDialog,
        "add_enclave": AddEnclaveDialog,
        "add_seclabel": lambda: AddSecLabelDialog(enclaves, profiles, enclave="enclave-A"),
        "configure_domain": lambda: ConfigureVmDialog("EA-domu-1", "pvh", settings),
        "plain_form": lambda: FormDialog(
            "Plain", [Field(f"f{i}", f"F{i}") for i in range(14)], lambda values: {}
        ),
    }


async def _opens(
    rounds: int, labels: list[tuple[str, str]], enclave: str
) -> dict[str, dict[str, list[float]]]:
    forms = _forms(labels, enclave)
    out: dict[str, dict[str, list[float]]] = {
        name: {"frame": [], "ready": [], "cpu": [], "widgets": []} for name in forms
    }
    app = _FrameApp()
    async with app.run_test(size=(160, 48)) as pilot:
        for _ in range(rounds):
            for name, make in forms.items():
                dialog = make()
                start, cpu = time.perf_counter(), time.process_time()
                app.push_screen(dialog)
                while not (app.screen is dialog and isinstance(dialog.focused, FIELDS)):
                    await pilot.pause(0)
                ready = time.perf_counter()
                out[name]["cpu"].append((time.process_time() - cpu) * 1000)
                while id(dialog) not in app.drawn:
                    await pilot.pause(0)
                out[name]["ready"].append((ready - start) * 1000)
                out[name]["frame"].append((app.drawn.pop(id(dialog)) - start) * 1000)
                out[name]["widgets"].append(len(list(dialog.walk_children())))
                dialog.dismiss(None)
                while app.screen is dialog:
                    await pilot.pause(0)
    return out


async def run(rounds: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    _progress(f"reading the SecLabels {rounds} times")
    reads, labels, enclave = await _seclabel_reads(rounds)
    _progress(f"opening each form {rounds} times")
    opens = await _opens(rounds, labels, enclave)
    result: dict[str, Any] = {**_stats("seclabel_read", reads)}
    for name, samples in opens.items():
        result |= _stats(f"{name}_frame", samples["frame"])
        result |= _stats(f"{name}_ready", samples["ready"])
        result |= _stats(f"{name}_ready_cpu", samples["cpu"])
        result[f"{name}_widgets"] = int(max(samples["widgets"]))
    return result | {
        "rounds": rounds,
        "load_1m_start": round(load, 2),
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
