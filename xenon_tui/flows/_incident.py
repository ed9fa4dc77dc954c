"""The guided incident (issue #14 §2): what each runbook step asks of the host.

The runbook panel (``screens/_runbook.py``) calls these; each takes the
:class:`~xenon_tui.flows.Console` that runs it, the server's address and the
:class:`Runbook` it is working on. The host keeps the incident (``OpenIncident``,
``IncidentStep``…) and logs every step with the console's user.

When the console has an XE link and XE manages the host (Editor mode from the
Enterprise view, or any host XE knows at that address), the runbook goes through XE
(:class:`XeRoute`): XE performs the host call for the XE user and records each step in
its audit chain. Without XE the host's log is the record.

Quarantine has two forms (``FORMS``): the tag's quarantine SecLabel, or the domain's VIFs
detached (the host keeps them in the incident and verify attaches exactly those again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xenon_tui._errors import ConsoleError, ReadOnlyError
from xenon_tui.flows._console import Console, connected_address
from xenon_tui.flows._edit import open_profile_for_violation
from xenon_tui.messages import RefreshWanted

__all__ = [
    "FORMS",
    "STEPS",
    "VERIFY_S",
    "Runbook",
    "XeRoute",
    "capture",
    "close",
    "fix",
    "incidents",
    "open_runbook",
    "pause",
    "quarantine",
    "quarantine_preview",
    "reopen",
    "runbook_of",
    "skip",
    "verify",
    "vifs_preview",
    "vifs_text",
    "xe_route",
]

#: The runbook's steps, in order, each with its key.
STEPS = ("pause", "capture", "quarantine", "fix", "verify", "close")
VERIFY_S = 30
"""How long verify watches the domain for a recurrence after resuming it."""

PREVIEW_LINES = 6
"""What-if rows the quarantine's confirmation shows (the rest are counted)."""

#: Quarantine's forms, each with its key in the runbook's choice and what it does.
FORMS = {
    "seclabel": ("q", "move to the quarantine SecLabel (minimal profile, no channels)"),
    "vifs": ("v", "detach its VIFs (the incident keeps them; verify attaches them again)"),
}


def vifs_text(vifs: Any) -> str:
    """``mac (switch, ip), …`` of VIFs as the host records them."""
    if not isinstance(vifs, list):
        return ""
    return ", ".join(
        f"{v.get('mac')} ({v.get('switch_name') or v.get('switch')}, {v.get('ip') or 'no IP'})"
        for v in vifs
        if isinstance(v, Mapping)
    )


@dataclass(frozen=True)
class XeRoute:
    """The runbook's steps through XE: its client and XE's name of the host."""

    client: Any  # enterprise_store.client.XeClient
    host: str


async def xe_route(console: Console, address: str) -> XeRoute | None:
    """XE's route to the host at ``address``, when the console has an XE link and XE has
    a host of that name at that address and port; else None (the host's log only)."""
    from xenon_tui._xe import EnterpriseError, bounded

    enterprise = getattr(getattr(console, "app", None), "enterprise", None)
    data = getattr(enterprise, "data", None)
    state = console.servers.get(address)
    if data is None or state is None:
        return None
    ports = {state.entry.port, state.entry.ro_port}
    for name in dict.fromkeys((state.info.get("hostname"), state.entry.host)):
        if not isinstance(name, str) or not name:
            continue
        try:
            host = await bounded(data.client.policy.get_host(name))
        except EnterpriseError:
            continue
        if host.address == state.entry.host and host.port in ports:
            return XeRoute(data.client, host.name)
    return None


@dataclass
class Runbook:
    """One incident's runbook as the panel shows it.

    Attributes:
        address: The server the domain runs on.
        domain: The domain's name.
        violation: The violation it was opened from (or the domain's newest one).
        incident: The host's incident record, once captured (or found open).
        pending: Steps done before the capture (recorded right after it).
        detail: Lines the panel shows under the steps (captured, what-if, watch).
        xe: Where the steps go through XE (audited there), else None.
        offer: The quarantine forms the panel offers again after quarantine could not
            be done in the form chosen (the other forms; the panel takes and clears it).
    """

    address: str
    domain: str
    violation: dict[str, Any] | None = None
    incident: dict[str, Any] | None = None
    pending: list[tuple[str, str, str | None]] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    xe: XeRoute | None = None
    offer: tuple[str, ...] = ()

    def status(self) -> dict[str, tuple[str, str, str | None]]:
        """step -> (outcome, user, note) of its last record since the last reopen."""
        out: dict[str, tuple[str, str, str | None]] = {}
        records = list(self.incident["steps"]) if self.incident else []
        for rec in records:
            if rec["step"] == "reopen":
                out = {"capture": out["capture"]} if "capture" in out else {}
                continue
            note = rec["note"]
            if rec.get("form") == "vifs":
                verb = "attached" if rec["step"] == "unquarantine" else "detached"
                moved = f"VIFs {verb}: {vifs_text(rec.get('vifs'))}"
                note = f"{note} ({moved})" if note else moved
            elif rec.get("label_after"):
                moved = f"{rec.get('label_before')} → {rec['label_after']}"
                note = f"{note} ({moved})" if note else moved
            if rec["step"] == "unquarantine":
                # Verify's restore shows on the quarantine row it undoes.
                prior = out.get("quarantine", ("done", rec["user"], None))
                out["quarantine"] = (prior[0], prior[1], f"restored: {note}")
                continue
            out[rec["step"]] = (rec["outcome"], rec["user"], note)
        for step, outcome, note in self.pending:
            out.setdefault(step, (outcome, "", note))
        return out

    def next_step(self) -> str | None:
        """The first step without a record."""
        done = self.status()
        return next((s for s in STEPS if s not in done), None)


def _writable(console: Console) -> None:
    if console.read_only:
        raise ReadOnlyError("Incident steps change the server.")


async def open_runbook(
    console: Console,
    domain: str,
    violation: Mapping[str, Any] | None,
    show: Callable[[Runbook], None],
) -> None:
    """Finds the domain's open incident (or none yet) and shows its runbook."""
    address = connected_address(console)
    if address is None or not domain:
        return
    book = Runbook(address, domain, dict(violation) if violation else None)
    book.xe = await xe_route(console, address)
    found = await console.call(address, "ListIncidents", query=domain, state="open")
    mine = next((i for i in found["incidents"] if i["domain"] == domain), None)
    if mine is not None:
        book.incident = await console.call(address, "GetIncident", id=mine["id"])
        book.detail = _captured(book.incident)
    if book.violation is None:
        got = await console.call(address, "GetViolations", since_seq=0, limit=100_000)
        book.violation = next(
            (dict(v) for v in reversed(got["violations"]) if v["domain"] == domain), None
        )
        if book.violation is None and book.incident and book.incident["violations"]:
            book.violation = dict(book.incident["violations"][-1])
    show(book)


async def _record(
    console: Console,
    book: Runbook,
    step: str,
    outcome: str,
    note: str | None,
    form: str | None = None,
) -> None:
    if book.incident is None:
        book.pending.append((step, outcome, note))
        return
    if book.xe is not None:
        from xenon_tui._xe import bounded

        out = await bounded(
            book.xe.client.incidents.step(
                book.xe.host, book.incident["id"], step, outcome, note or None, form
            )
        )
        book.incident = dict(out.incident)
        return
    params: dict[str, Any] = {"note": note} if note else {}
    if form is not None:
        params["form"] = form
    book.incident = await console.call(
        book.address,
        "IncidentStep",
        id=book.incident["id"],
        step=step,
        outcome=outcome,
        user=console.user,
        **params,
    )


async def pause(console: Console, book: Runbook) -> None:
    """Pauses the domain (logged with the user), unless it is paused already."""
    _writable(console)
    states = await console.call(book.address, "GetDomainRunStates")
    row = next((d for d in states["domains"] if d.get("name") == book.domain), None)
    if row is None:
        book.detail = [f"{book.domain} is not running: nothing to pause."]
    elif row.get("run_state") == "paused":
        book.detail = [f"{book.domain} is paused already."]
    else:
        await console.call(book.address, "PauseDomain", domain=book.domain, user=console.user)
        book.detail = [f"{book.domain} paused."]
        console.post_message(RefreshWanted(book.address, "domains"))
    await _record(console, book, "pause", "done", None)


async def _open_on_host(console: Console, book: Runbook) -> dict[str, Any] | None:
    """The domain's open incident as the host keeps it (None: it has none)."""
    found = await console.call(book.address, "ListIncidents", query=book.domain, state="open")
    mine = next((i for i in found["incidents"] if i["domain"] == book.domain), None)
    if mine is None:
        return None
    return dict(await console.call(book.address, "GetIncident", id=mine["id"]))


async def capture(console: Console, book: Runbook) -> None:
    """Opens the incident on the host, which captures the record; shows what it holds,
    then records the steps done before it (pause): what it captured is shown even when
    one of those records fails, and the steps not recorded yet stay pending (c again
    records them)."""
    _writable(console)
    if book.incident is None:
        seq = book.violation.get("seq") if book.violation else None
        params: dict[str, Any] = {"trigger_seqs": [seq]} if isinstance(seq, int) else {}
        if book.xe is not None:
            from xenon_tui._xe import EnterpriseError, bounded

            seqs = params.get("trigger_seqs", [])
            try:
                out = await bounded(book.xe.client.incidents.open(book.xe.host, book.domain, seqs))
            except EnterpriseError as exc:
                # No answer in time (XE and the host may have opened it meanwhile), or
                # refused because it is open already: the host's open incident is the one.
                if exc.code not in ("unreachable", "conflict"):
                    raise
                try:
                    found = await _open_on_host(console, book)
                except ConsoleError:
                    found = None
                if found is None:
                    raise
                book.incident = found
            else:
                book.incident = dict(out.incident)
        else:
            book.incident = await console.call(
                book.address, "OpenIncident", domain=book.domain, user=console.user, **params
            )
    book.detail = _captured(book.incident)
    while book.pending:
        step, outcome, note = book.pending[0]
        await _record(console, book, step, outcome, note)
        book.pending.pop(0)


def _captured(inc: Mapping[str, Any]) -> list[str]:
    label = (inc.get("seclabel") or {}).get("name", "none")
    sha = inc.get("policy_sha256") or "none"
    series = sum(len(s["points"]) for s in inc["stats"]["series"])
    return [
        f"{inc['id']} opened by {inc['opened_by']}: {len(inc['triggers'])} triggering and "
        f"{len(inc['violations'])} recent violations, {series} statistics samples.",
        f"SecLabel {label}; policy {inc.get('policy_name') or 'none'} "
        f"generation {inc['policy_generation']}, sha256 {sha[:16]}",
    ]


def _other_changes(domain: str, what: Mapping[str, Any], *, own_row: bool) -> list[str]:
    """The confirmation's lines of what the host's what-if finds beyond ``domain``'s own
    calls: other domains' denied calls, the domain rows (``domain``'s own too when
    ``own_row``) and channels between other domains; the first :data:`PREVIEW_LINES`."""
    others = [d["text"] for d in what["denied_calls"] if d["domain"] != domain]
    others += [d["text"] for d in what["domains"] if own_row or d.get("domain") != domain]
    others += [
        f"channel {c['a']} ↔ {c['b']}: {'allowed' if c['staged'] else 'denied'}"
        for c in what["channels"]
        if c["a"] != domain and c["b"] != domain
    ]
    if not others:
        return ["No other domain, channel or device is affected."]
    return [
        f"It would also change {len(others)} thing(s) for other domains:",
        *(f"  {t}" for t in others[:PREVIEW_LINES]),
    ]


def quarantine_preview(domain: str, before: str, after: str, what: Mapping[str, Any]) -> list[str]:
    """What the quarantine's confirmation says: the SecLabel change, then what the host's
    what-if finds: the domain's own calls it would deny are the point; anything else it
    would deny or refuse (another domain, a channel, a device) is listed first."""
    mine = [d for d in what["denied_calls"] if d["domain"] == domain]
    lines = [f"{domain}: SecLabel {before} → {after} (same tag; profile: idle calls only)."]
    lines += _other_changes(domain, what, own_row=True)
    calls = sum(d["calls"] for d in mine)
    lines.append(
        f"{domain} made {calls:,} calls of {len(mine)} kinds in the last {what['minutes']} min "
        "that it may no longer make; channels and grants are denied to it."
    )
    lines.append("Verify (v) restores its SecLabel before it resumes.")
    return lines


def vifs_preview(domain: str, vifs: list[dict[str, Any]], what: Mapping[str, Any]) -> list[str]:
    """What the VIF detach's confirmation says: each VIF (MAC, switch, IP), then what the
    host's what-if finds for other domains and channels."""
    lines = [f"{domain}: detach {len(vifs)} VIF(s) (its SecLabel stays):"]
    lines += [
        f"  {v['mac']}  switch {v.get('switch_name') or v.get('switch')}  IP {v.get('ip') or '-'}"
        for v in vifs
    ]
    lines += _other_changes(domain, what, own_row=False)
    lines.append("The incident keeps them: verify (v) attaches exactly these again.")
    return lines


async def quarantine(console: Console, book: Runbook, form: str = "seclabel") -> None:
    """Quarantines the domain in one of its :data:`FORMS`: moves it to its tag's
    quarantine SecLabel, or detaches its VIFs. The host's what-if of that policy first
    (confirmed by the operator), then the host performs it as the incident's step (one
    MSM transaction; the host records the SecLabel before and after, or the VIFs)."""
    from xenon_tui.dialogs import ConfirmDialog
    from xps.policy import (
        PolicyError,
        policy_from_dict,
        policy_to_dict,
        quarantined,
        vifs_detached,
    )

    if form not in FORMS:
        raise ValueError(f"no quarantine form {form!r}")
    _writable(console)
    if book.incident is None:
        await capture(console, book)
    assert book.incident is not None
    held = book.incident.get("quarantine")
    if held:
        if held.get("form") == "vifs":
            book.detail = [
                f"{book.domain}'s VIFs are detached ({vifs_text(held.get('vifs'))}): "
                "verify (v) attaches them again."
            ]
            return
        book.detail = [
            f"{book.domain} is quarantined ({held['quarantine_label']}, was {held['label']}): "
            "verify (v) restores it."
        ]
        return
    active = await console.call(book.address, "GetPolicy", which="active")
    try:
        if form == "vifs":
            policy, vifs = vifs_detached(policy_from_dict(active["policy"]), book.domain)
        else:
            policy, before, label = quarantined(policy_from_dict(active["policy"]), book.domain)
    except PolicyError as exc:
        # The other form may still be possible (a VM without VIFs has a SecLabel): the
        # panel asks again with it.
        book.offer = tuple(f for f in FORMS if f != form)
        how = "detach its VIFs" if form == "vifs" else "move it to the quarantine SecLabel"
        book.detail = [
            f"Cannot {how}: {exc.message}.",
            f"Quarantine {book.domain} how, then?",
            *(f"  {FORMS[f][0]}  {FORMS[f][1]}" for f in book.offer),
            "  Esc  cancel (then s skips the step with a reason)",
        ]
        return
    what = await console.call(book.address, "WhatIf", policy=policy_to_dict(policy), minutes=10)
    if form == "vifs":
        lines = vifs_preview(book.domain, vifs, what)
        title, confirm = f"Detach {book.domain}'s VIFs?", "Detach VIFs"
    else:
        lines = quarantine_preview(book.domain, before.name, label.name, what)
        title, confirm = f"Quarantine {book.domain}?", "Quarantine"
    states = await console.call(book.address, "GetDomainRunStates")
    row = next((d for d in states["domains"] if d.get("name") == book.domain), None)
    if row is not None and row.get("run_state") == "running":
        lines.insert(
            1,
            f"{book.domain} is running: its next calls outside the profile are violations "
            "and the MSM stops it at its limit (pause it first: p).",
        )
    book.detail = lines
    if not await console.ask(ConfirmDialog(title, "\n".join(lines), confirm=confirm)):
        book.detail = ["Quarantine cancelled: the step stays to do (or s to skip)."]
        return
    await _record(console, book, "quarantine", "done", None, None if form == "seclabel" else form)
    rec = book.incident["steps"][-1]
    if form == "vifs":
        book.detail = [
            f"{book.domain}'s VIFs detached: {vifs_text(rec.get('vifs'))} "
            f"(policy generation {rec.get('generation')}).",
            "Verify (v) attaches them again, then resumes it.",
        ]
        console.post_message(RefreshWanted(book.address, "policy"))
        return
    book.detail = [
        f"{book.domain} quarantined: SecLabel {rec.get('label_before')} → "
        f"{rec.get('label_after')} (policy generation {rec.get('generation')}).",
        "Verify (v) restores its SecLabel, then resumes it.",
    ]
    console.post_message(RefreshWanted(book.address, "policy"))


async def fix(console: Console, book: Runbook) -> None:
    """The profile editor with the missing call pre-selected, then the what-if of the
    staged policy (when one is staged)."""
    _writable(console)
    if book.violation is None:
        book.detail = [f"No violation of {book.domain} is known: nothing to pre-select."]
        return
    await open_profile_for_violation(console, book.violation)
    diff = await console.call(book.address, "GetStagedDiff")
    lines = [f"Profile of {book.violation.get('seclabel_name', '?')} opened."]
    if diff.get("staged"):
        staged = await console.call(book.address, "GetPolicy", which="staged")
        what = await console.call(book.address, "WhatIf", xml=staged["xml"], minutes=10)
        fixed = [v for v in what["fixed"] if v.get("domain") == book.domain]
        lines.append(
            f"What-if of the staged policy: fixes {len(fixed)} of {book.domain}'s "
            f"violations, denies {len(what['denied_calls'])} allowed calls."
        )
        lines += [d["text"] for d in what["denied_calls"][:3]]
        book.detail = lines
        await _record(console, book, "fix", "done", None)
        return
    # Nothing staged (the editor was cancelled): the step stays to do.
    lines.append("Nothing is staged: stage the change, then press f again for the what-if.")
    book.detail = lines


async def verify(
    console: Console,
    book: Runbook,
    seconds: int,
    tick: Callable[[], None],
) -> None:
    """Resumes the domain (its violations addressed) and watches ``seconds`` for a
    recurrence, shown live; a recurrence pauses it again and leaves the step open."""
    _writable(console)
    restored: list[str] = []
    held = book.incident.get("quarantine") if book.incident is not None else None
    if held:
        try:
            await _record(console, book, "unquarantine", "done", None)
        except ConsoleError as exc:
            if held.get("form") != "vifs":
                raise
            # A MAC or IP was taken meanwhile: nothing is resumed, the VIFs stay kept.
            book.detail = [
                f"Cannot attach {book.domain}'s VIFs again: {exc.message}",
                f"Kept in the incident: {vifs_text(held.get('vifs'))}. "
                f"{book.domain} is not resumed: free the MAC/IP, then verify (v) again.",
            ]
            tick()
            return
        assert book.incident is not None
        rec = book.incident["steps"][-1]
        if rec.get("form") == "vifs":
            restored = [f"VIFs attached again: {vifs_text(rec.get('vifs'))}."]
        else:
            restored = [f"SecLabel {rec.get('label_after')} restored."]
        console.post_message(RefreshWanted(book.address, "policy"))
    note = f"incident {book.incident['id']} verify" if book.incident else "incident verify"
    mark = (await console.call(book.address, "GetViolations", since_seq=0, limit=1))["last_seq"]
    await console.call(
        book.address,
        "AddressViolations",
        domain=book.domain,
        user=console.user,
        note=note,
        unpause=True,
    )
    console.post_message(RefreshWanted(book.address, "domains"))
    seen = 0
    for left in range(seconds, 0, -1):
        book.detail = [
            *restored,
            f"Watching {book.domain}: {left} s left, {seen} new violations.",
        ]
        tick()
        await asyncio.sleep(1)
        got = await console.call(book.address, "GetViolations", since_seq=mark, limit=10_000)
        mark = got["last_seq"]
        seen += sum(1 for v in got["violations"] if v["domain"] == book.domain)
        if seen:
            await console.call(book.address, "PauseDomain", domain=book.domain, user=console.user)
            book.detail = [
                f"{book.domain} violated again ({seen} new violations): paused again. "
                "Fix the profile (f) and verify once more."
            ]
            tick()
            return
    book.detail = [f"No recurrence in {seconds} s: {book.domain} runs."]
    await _record(console, book, "verify", "done", None)
    tick()


async def close(console: Console, book: Runbook, note: str) -> None:
    """Closes the incident with the required note."""
    _writable(console)
    if book.incident is None:
        await capture(console, book)
    await _record(console, book, "close", "done", note)
    book.detail = [f"{book.incident['id'] if book.incident else ''} closed: {note}"]
    held = book.incident.get("quarantine") if book.incident else None
    if held and held.get("form") == "vifs":
        book.detail.append(
            f"{book.domain}'s VIFs stay detached ({vifs_text(held.get('vifs'))}): reopen the "
            "incident and verify (v) to attach them again."
        )
    elif held:
        book.detail.append(
            f"{book.domain} stays on {held['quarantine_label']}: reopen the incident and "
            f"verify (v) to restore {held['label']}."
        )


async def skip(console: Console, book: Runbook, step: str, reason: str) -> None:
    """Records ``step`` as skipped with ``reason``."""
    _writable(console)
    await _record(console, book, step, "skipped", reason)
    book.detail = [f"{step} skipped: {reason}"]


async def incidents(
    console: Console, address: str, query: str | None, state: str = "all"
) -> list[dict[str, Any]]:
    """The host's incidents, newest first, matching ``query`` (any case) and ``state``."""
    params: dict[str, Any] = {"query": query} if query else {}
    got = await console.call(address, "ListIncidents", state=state, **params)
    return [dict(i) for i in got["incidents"]]


async def runbook_of(
    console: Console, address: str, incident_id: str, show: Callable[[Runbook], None]
) -> None:
    """Shows the runbook of one incident (open or closed) as the host keeps it."""
    inc = await console.call(address, "GetIncident", id=incident_id)
    book = Runbook(address, str(inc["domain"]), None, dict(inc))
    book.xe = await xe_route(console, address)
    if inc["violations"]:
        book.violation = dict(inc["violations"][-1])
    book.detail = _captured(inc)
    show(book)


async def reopen(console: Console, address: str, incident_id: str, note: str) -> None:
    """Reopens a closed incident with a note (the host logs it with the user)."""
    _writable(console)
    route = await xe_route(console, address)
    if route is not None:
        from xenon_tui._xe import bounded

        await bounded(route.client.incidents.reopen(route.host, incident_id, note))
    else:
        await console.call(address, "ReopenIncident", id=incident_id, user=console.user, note=note)
    console.notify(f"{incident_id} reopened", title="Incidents")
