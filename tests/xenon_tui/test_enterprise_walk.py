"""The report's §4.2 walk in the console, from an EMPTY enterprise: real XE services
(in-process API, SQLite) and three running sim XPS hosts XE does not know yet.

As admin: add three hosts (Figure 21), three enclaves (Figure 22), assign them (A to two
hosts, B and C to all; Figure 23), try to add a VM before any SecLabel (the warning,
Figure 24, then its fix: Add SecLabel, Figure 25, and back to Add domain, Figure 26), add
the other SecLabels and VMs, propagate (the console's P), and see each host enforce only
its slice (Figure 31), read from each sim host through XPS.

Steps owned by others are left to them: view a VM's config (Figure 27) and its extra XL
configuration arriving on the host (§4.3.4, X2), migrate an Enclave A VM between its two
hosts (Figure 40, done in test_enterprise.py), the same walk over SSH in tmux.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Select

from tests._support.console import wait_for
from tests._support.xe_console import (
    World,
    choose_new,
    field,
    form,
    move_to,
    tree_lines,
    vm_names,
)
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs._xe_forms import (
    NO_SECLABEL,
    AddDomainDialog,
    AddEnclaveDialog,
    AddHostDialog,
    AddSecLabelDialog,
    AddTagDialog,
    HostCpuDialog,
)
from xenon_tui.dialogs._xe_warnings import PolicyWarningsDialog
from xps.policy import parse_policy

HOSTS = ("xenon-1", "xenon-2", "xenon-3")
ENCLAVES = {  # name: (colour typed, hosts)
    "Enclave A": ("200, 40, 40", ("xenon-2", "xenon-3")),
    "Enclave B": ("#2878c8", HOSTS),
    "Enclave C": ("40 160 40", HOSTS),
}
PROFILES = {"Enclave A": "PVH-Combined", "Enclave B": "PV-Combined", "Enclave C": "PVHVM-Combined"}


def choose(screen: Any, name: str, label: str) -> None:
    """Picks the choice whose label starts with ``label`` (as the pull-down would)."""
    widget = field(screen, name)
    assert isinstance(widget, Select)
    options = next(f.choices for f in screen.fields if f.name == name)
    widget.value = next(v for text, v in options if text.startswith(label))


async def active_policy(sim: Any) -> dict[str, Any]:
    """The policy a sim host enforces, read through its XPS."""
    console = await sim.console()
    return dict(await console.get_policy("active"))


async def until(pilot: Any, predicate: Any, shown: Any, wait_s: float = 60) -> None:
    """Like wait_for (a liveness bound), failing with what ``shown()`` says."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while not predicate():
        assert loop.time() < deadline, shown()
        await pilot.pause(0.05)


async def closed(pilot: Any, app: XenonConsole) -> None:
    await wait_for(pilot, lambda: app.screen is app.enterprise, 30)


@pytest.mark.timeout(300)  # some 40 XE writes and forms on a shared 2-core box
async def test_the_42_walk_from_an_empty_enterprise(empty_world: World, tmp_path: Path) -> None:
    world = empty_world
    api = await world.admin()
    app = world.console(await world.link("root"), tmp_path)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.enterprise is not None and app.enterprise.polls > 0, 30)
        screen = app.enterprise
        assert screen is not None and tree_lines(app) == []

        # §4.2.2 Add hosts (each enforces a policy of its own: XE takes it over).
        for name, sim in zip(HOSTS, world.hosts, strict=True):
            await choose_new(pilot, app, "host")
            dialog = await form(pilot, app, AddHostDialog)
            await pilot.press(*name, "enter", *"127.0.0.1", "enter")
            field(dialog, "port").value = str(sim.port)
            choose(dialog, "takeover", "take it over")
            await pilot.press("ctrl+s")
            cpu = await form(pilot, app, HostCpuDialog)
            assert field(cpu, "vendor").value  # read from the host
            await pilot.press("escape")  # unchanged: closes at once
            await closed(pilot, app)
        await wait_for(pilot, lambda: [x.split()[0] for x in tree_lines(app)] == list(HOSTS), 30)

        # §4.2.3 Create enclaves; §4.2.4 assign them (the tag dialog follows each enclave).
        # The hosts' own policies tag their switches with Enclave A/B/C already: the new
        # enclaves keep those tags' UUIDs (else each host would carry two tags of one name).
        host_tags = {}
        for sim in world.hosts:
            own = parse_policy((await active_policy(sim))["xml"].encode())
            host_tags |= {t.name: str(t.id) for t in own.tags}
        for enclave, (colour, hosts) in ENCLAVES.items():
            await move_to(pilot, app, hosts[0], host=True)
            await choose_new(pilot, app, "enclave")
            dialog = await form(pilot, app, AddEnclaveDialog)
            await pilot.press(*enclave, "tab")
            field(dialog, "color").value = colour
            field(dialog, "id").value = host_tags.get(enclave, "")
            await pilot.press("ctrl+s")
            tag = await form(pilot, app, AddTagDialog)
            assert field(tag, "host").value == (await api.policy.get_host(hosts[0])).id
            await pilot.press("ctrl+s")
            await closed(pilot, app)
            for host in hosts[1:]:
                await choose_new(pilot, app, "tag")
                tag = await form(pilot, app, AddTagDialog)
                choose(tag, "host", host)
                choose(tag, "enclave", enclave)
                await pilot.press("ctrl+s")
                await closed(pilot, app)
        expected = {"xenon-1": ["Enclave B", "Enclave C"]} | {
            h: ["Enclave A", "Enclave B", "Enclave C"] for h in ("xenon-2", "xenon-3")
        }

        def panel() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            under: list[str] = []
            for line in tree_lines(app):
                if line.startswith(" "):
                    under.append(line.strip())
                else:
                    under = out.setdefault(line.split()[0], [])
            return out

        await until(pilot, lambda: panel() == expected, panel)  # Figure 23

        # §4.2.5 A VM before any SecLabel: the policy service's warning, then its fix.
        await move_to(pilot, app, "Enclave A")
        enclave_a = (await api.policy.get_enclave("Enclave A")).id
        await wait_for(pilot, lambda: screen.enclave == enclave_a, 30)
        await pilot.press("a")
        dialog = await form(pilot, app, AddDomainDialog)
        assert field(dialog, "seclabel").value == NO_SECLABEL
        await pilot.press(*"EA-domu-1")
        field(dialog, "kernel").value = "/usr/local/lib/xen/boot/vmlinuz"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PolicyWarningsDialog), 30)
        assert "XE-VM-NO-SECLABEL" in {f.code for f in app.screen.findings}
        await pilot.press("enter")  # the fix: Add SecLabel in Enclave A
        labels = await form(pilot, app, AddSecLabelDialog)
        assert field(labels, "enclave").value == enclave_a
        await pilot.press(*"EA-seclabel")
        choose(labels, "profile", PROFILES["Enclave A"])
        await pilot.press("ctrl+s")
        again = await form(pilot, app, AddDomainDialog)  # back to the refused action
        assert field(again, "name").value == "EA-domu-1"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: vm_names(app) == ["EA-domu-1"], 30)
        # The default host rule: the first host in panel order with Enclave A.
        vm = await api.policy.get_vm("EA-domu-1")
        assert vm.host == (await api.policy.get_host("xenon-2")).id

        # The other enclaves: a SecLabel each (n → Add SecLabel), then a VM.
        for enclave, kind in (("Enclave B", "pv"), ("Enclave C", "hvm")):
            await move_to(pilot, app, enclave)  # xenon-1's
            enclave_id = (await api.policy.get_enclave(enclave)).id
            await wait_for(pilot, lambda e=enclave_id: screen.enclave == e, 30)  # type: ignore[misc]
            short = enclave[-1]
            await choose_new(pilot, app, "seclabel")
            labels = await form(pilot, app, AddSecLabelDialog)
            await pilot.press(*f"E{short}-seclabel")
            choose(labels, "profile", PROFILES[enclave])
            await pilot.press("ctrl+s")
            await closed(pilot, app)
            await pilot.press("a")
            dialog = await form(pilot, app, AddDomainDialog)
            await wait_for(pilot, lambda d=dialog: field(d, "seclabel").value != NO_SECLABEL, 60)  # type: ignore[misc]
            await pilot.press(*f"E{short}-domu-1")
            field(dialog, "guest_type").value = kind
            await pilot.pause()
            if kind == "pv":
                field(dialog, "bootloader").value = "pygrub"
            await pilot.press("ctrl+s")
            name = f"E{short}-domu-1"
            await wait_for(pilot, lambda n=name: n in vm_names(app), 30)  # type: ignore[misc]

        # Propagate with the console's P (the task panel follows it), until every host
        # enforces the current version.
        version = (await api.policy.check()).version
        await pilot.press("P")

        async def converged() -> bool:
            rows = await api.compute.propagation()
            return len(rows) == 3 and all(
                r.state == "converged" and r.observed.version == version for r in rows
            )

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90  # liveness bound only
        while not await converged():
            assert loop.time() < deadline, [
                (r.host, r.state, r.observed.last_error) for r in await api.compute.propagation()
            ]
            await pilot.pause(0.2)

    # Figure 31: each host enforces only its slice, read from the host through XPS.
    slices = {
        "xenon-1": ({"EB-seclabel", "EC-seclabel"}, {"EB-domu-1", "EC-domu-1"}),
        "xenon-2": ({"EA-seclabel", "EB-seclabel", "EC-seclabel"}, {"EA-domu-1"}),
        "xenon-3": ({"EA-seclabel", "EB-seclabel", "EC-seclabel"}, set()),
    }
    rows = {r.host: r for r in await api.compute.propagation()}
    for name, sim in zip(HOSTS, world.hosts, strict=True):
        active = await active_policy(sim)
        enforced = parse_policy(active["xml"].encode())
        labels_there, vms_there = slices[name]
        assert {s.name for s in enforced.seclabels} == labels_there, name
        assert {d.name for d in enforced.domains} == vms_there, name
        tags = {t.name for t in enforced.tags}
        assert {e for e, (_, hosts) in ENCLAVES.items() if name in hosts} <= tags
        if name == "xenon-1":
            assert "Enclave A" not in tags
        assert active["sha256"] == rows[name].desired.slice_sha256, name
