"""Incidents: a record captured server-side when an operator opens one, and its runbook steps.

An incident is opened for one domain (``OpenIncident``): the host captures the triggering
violations, the domain's violations and statistics of the last 10 minutes, its
configuration and SecLabel from the active policy, the policy's generation and sha256,
the operator and the time. Each runbook step (pause, capture, quarantine, fix, verify,
close) is then recorded as done or skipped (``IncidentStep``; a reason is required for a
skip and a note for close). Every change is also a line of the MSM log, so the
incident timeline shows it.

Quarantine done is performed here: the active policy with the domain bound to its
tag's quarantine SecLabel (``xps.policy.quarantined``) is made active at once, as one
MSM transaction that rebinds the running domain; the SecLabel it had is kept in the
incident (``quarantine``) and ``unquarantine`` binds it again. Both leave the staged
policy alone and are steps of the record (SecLabel before and after, generation).
The other form (``form="vifs"``) detaches the domain's VIFs instead
(``xps.policy.vifs_detached``): the incident keeps the VIFs removed (MAC, switch, IP) and
unquarantine attaches exactly those again, refused when a MAC or IP was since taken.

A quarantine holds until verify's unquarantine, whatever is activated meanwhile: a
policy staged before it (or the previous one, by a rollback) binds the domain to its
ordinary SecLabel, and activating it would silently undo the quarantine. The policy
service asks :meth:`IncidentService.keep_quarantines` first: the policy is activated
with each quarantined domain on its quarantine SecLabel (rebased), the incident then
restores the SecLabel *that* policy gave it (a fix step's new label), and the MSM log
and the activation's answer (``quarantines_kept``) say so. When the quarantine cannot
be kept in that policy (its tag gone, a changed quarantine profile) the activation is
refused naming the incident and the VM.

Each incident is one JSON file ``incidents/INC-<n>.json`` in the host's state directory
(written atomically, 0600, at most :data:`MAX_FILE_BYTES`); at most :data:`MAX_INCIDENTS`
are kept (the oldest closed ones go first; opening one more while all are open is
refused).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from xps.files import read_bounded, write_atomic
from xps.policy import (
    Policy,
    PolicyError,
    policy_to_dict,
    quarantined,
    unquarantined,
    vifs_attached,
    vifs_detached,
)
from xps.policy._quarantine import quarantined_domains
from xps.protocol import (
    Incident,
    IncidentList,
    IncidentQuarantine,
    IncidentStepRecord,
    IncidentSummary,
    PolicyVersion,
    StatsHistory,
    Violation,
)

from ._errors import ConflictError, HostStateError, InvalidArgument, NotFound
from ._svc_domains import NOTE_MAX, USER_MAX, checked_text
from ._svc_state import HostState

__all__ = ["MAX_FILE_BYTES", "MAX_INCIDENTS", "STEPS", "IncidentService", "KeptQuarantine"]

log = logging.getLogger("xps.host.incidents")

#: The runbook's steps, in order.
STEPS = ("pause", "capture", "quarantine", "fix", "verify", "close")
#: Steps recorded besides the runbook's (verify undoes a quarantine with this one).
EXTRA_STEPS = ("unquarantine",)
OUTCOMES = ("done", "skipped")
#: The forms of a quarantine: the quarantine SecLabel, or its VIFs detached.
FORMS = ("seclabel", "vifs")
MAX_INCIDENTS = 200
MAX_FILE_BYTES = 1 << 20
#: Violations of the domain kept in a record (the newest of the last 10 minutes).
MAX_RECENT = 500
MAX_TRIGGERS = 100
MAX_STEPS = 200
WINDOW_NS = 10 * 60 * 1_000_000_000
_ID = re.compile(r"^INC-([1-9][0-9]{0,8})$")
#: Violation records looked through for the last 10 minutes (the newest kept in memory).
_SCAN = 100_000

Violations = Callable[[], list[Violation]]
Activate = Callable[[Callable[[Policy], Policy]], Awaitable[PolicyVersion]]


@dataclasses.dataclass(frozen=True, slots=True)
class KeptQuarantine:
    """A quarantine kept in a policy being activated: the domain stays on its quarantine
    SecLabel, and verify restores ``label`` (the SecLabel that policy binds it to)."""

    incident: str
    domain: str
    label_id: str
    label: str

    def __str__(self) -> str:
        return f"{self.domain} ({self.incident})"


def _number(item: Incident) -> int:
    match = _ID.match(item["id"])
    return int(match.group(1)) if match else 0


def _check_id(value: object) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidArgument("id must look like INC-<number>")
    return value


class IncidentService:
    """Opens, steps, lists and reopens the incidents of one host (see the module doc).

    Args:
        state: The host's shared state (state dir, MSM log, active policy, names).
        recent: Returns the violation records kept in memory, oldest first.
        history: ``history(domain)``: the domain's 10-minute statistics history.
        activate: ``activate(change)`` makes ``change(active policy)`` active (the
            policy service's ``activate_changed``); None: quarantine is refused.
    """

    def __init__(
        self,
        state: HostState,
        recent: Violations,
        history: Callable[[str], Awaitable[StatsHistory]],
        activate: Activate | None = None,
    ) -> None:
        self._state = state
        self._recent = recent
        self._history = history
        self._activate = activate
        self._dir: Path = state.config.state_dir / "incidents"
        self._items: dict[str, Incident] = {}
        self._next = 1

    # ------------------------------------------------------------------ files

    def load(self) -> None:
        """Reads the kept incidents (blocking: call in a worker thread). A file that is
        unreadable or not an incident is skipped and logged."""
        if not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob("INC-*.json")):
            match = _ID.match(path.stem)
            if match is None:
                continue
            try:
                item = json.loads(read_bounded(path, MAX_FILE_BYTES, ValueError))
            except (ValueError, OSError) as exc:
                log.warning("ignoring incident file %s: %s", path.name, exc)
                continue
            if not isinstance(item, dict) or item.get("id") != path.stem:
                log.warning("ignoring incident file %s: not an incident", path.name)
                continue
            self._items[path.stem] = cast(Incident, item)
            self._next = max(self._next, int(match.group(1)) + 1)

    def _write(self, item: Incident) -> None:
        data = json.dumps(item, separators=(",", ":")).encode()
        if len(data) > MAX_FILE_BYTES:
            raise InvalidArgument(f"incident {item['id']} would exceed {MAX_FILE_BYTES} bytes")
        write_atomic(self._dir / f"{item['id']}.json", data, dir_mode=0o700)

    async def _save(self, item: Incident) -> None:
        try:
            await asyncio.to_thread(self._write, item)
        except OSError as exc:
            raise HostStateError(f"cannot write incident {item['id']}: {exc.strerror}") from exc

    async def _make_room(self) -> None:
        if len(self._items) < MAX_INCIDENTS:
            return
        closed = [i for i in self._items.values() if i["state"] == "closed"]
        if not closed:
            raise ConflictError(f"{MAX_INCIDENTS} incidents are open: close one first")
        oldest = min(closed, key=lambda i: i["opened_at"])
        del self._items[oldest["id"]]
        path = self._dir / f"{oldest['id']}.json"
        await asyncio.to_thread(path.unlink, True)

    def _get(self, id: object) -> Incident:
        item = self._items.get(_check_id(id))
        if item is None:
            raise NotFound(f"no incident {id}")
        return item

    def _log(self, text: str) -> None:
        self._state.log_msm(text)
        log.info("%s", text)

    # ------------------------------------------------------------------ requests

    async def open(self, domain: object, user: object, trigger_seqs: object = None) -> Incident:
        """Opens an incident for ``domain`` and captures its record (see the module doc).

        Raises:
            InvalidArgument: A bad domain, user or trigger list.
            ConflictError: The domain already has an open incident (its id is named),
                or every kept incident is open.
        """
        name = checked_text("domain", domain, 128, required=True)
        who = checked_text("user", user, USER_MAX, required=True)
        assert name is not None and who is not None
        seqs = self._check_seqs(trigger_seqs)
        policy = self._state.policy
        known = set(self._state.names.values())
        if policy is not None:
            known.update(d.name for d in policy.domains)
        if name not in known or name == "Domain-0":
            raise NotFound(f"no domain {name} on this host")
        for other in self._items.values():
            if other["domain"] == name and other["state"] == "open":
                raise ConflictError(f"{name} already has the open incident {other['id']}")
        await self._make_room()
        now_ns = time.time_ns()
        records = [v for v in self._recent() if v["domain"] == name]
        wanted = set(seqs)
        triggers = [v for v in records if v["seq"] in wanted]
        recent = [v for v in records if v["ts_ns"] >= now_ns - WINDOW_NS][-MAX_RECENT:]
        config: dict[str, Any] | None = None
        seclabel: dict[str, Any] | None = None
        if policy is not None:
            whole = policy_to_dict(policy)
            config = next((d for d in whole.get("domains", []) if d.get("name") == name), None)
            if config is not None:
                seclabel = next(
                    (s for s in whole.get("seclabels", []) if s.get("id") == config["seclabel"]),
                    None,
                )
        stored_sha = await asyncio.to_thread(self._active_sha)
        item: Incident = {
            "id": f"INC-{self._next}",
            "domain": name,
            "state": "open",
            "opened_by": who,
            "opened_at": round(now_ns / 1e9, 3),
            "closed_at": None,
            "trigger_seqs": seqs,
            "triggers": triggers,
            "violations": recent,
            "stats": await self._history(name),
            "config": config,
            "seclabel": seclabel,
            "policy_name": policy.name if policy is not None else None,
            "policy_generation": self._state.store.generation,
            "policy_sha256": stored_sha,
            "steps": [
                {
                    "step": "capture",
                    "outcome": "done",
                    "user": who,
                    "note": None,
                    "ts": round(now_ns / 1e9, 3),
                }
            ],
        }
        await self._save(item)
        self._next += 1
        self._items[item["id"]] = item
        self._log(
            f"incident {item['id']} opened for {name} by {who}: {len(triggers)} triggering "
            f"and {len(recent)} recent violations captured, policy generation "
            f"{item['policy_generation']}"
        )
        return item

    def _active_sha(self) -> str | None:
        store = self._state.store
        if not store.has("active"):
            return None
        return store.get("active").sha256

    @staticmethod
    def _check_seqs(value: object) -> list[int]:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_TRIGGERS:
            raise InvalidArgument(f"trigger_seqs must be a list of at most {MAX_TRIGGERS} seqs")
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in value):
            raise InvalidArgument("trigger_seqs must hold integers >= 1")
        return sorted(set(value))

    async def step(
        self,
        id: object,
        step: object,
        outcome: object,
        user: object,
        note: object = None,
        form: object = None,
    ) -> Incident:
        """Records one runbook step; ``close`` closes the incident. ``form`` is a
        quarantine's (done): ``seclabel`` (the default) or ``vifs``.

        Raises:
            InvalidArgument: A bad step or outcome, a skip without a reason, a close
                without a note, or a step of a closed incident.
        """
        item = self._get(id)
        if step not in STEPS and step not in EXTRA_STEPS:
            raise InvalidArgument(f"step must be one of {', '.join(STEPS + EXTRA_STEPS)}")
        if outcome not in OUTCOMES:
            raise InvalidArgument("outcome must be done or skipped")
        if step == "unquarantine" and outcome != "done":
            raise InvalidArgument("unquarantine is done or not asked for")
        if form is not None and (form not in FORMS or step != "quarantine"):
            raise InvalidArgument("form is seclabel or vifs, of a quarantine only")
        who = checked_text("user", user, USER_MAX, required=True)
        text = checked_text("note", note, NOTE_MAX)
        if text is None and (outcome == "skipped" or step == "close"):
            raise InvalidArgument(
                "a close needs a note" if step == "close" else "a skipped step needs a reason"
            )
        if item["state"] != "open":
            raise InvalidArgument(f"incident {item['id']} is closed: reopen it first")
        if len(item["steps"]) >= MAX_STEPS:
            raise InvalidArgument(f"incident {item['id']} has {MAX_STEPS} steps already")
        assert who is not None
        now = round(time.time(), 3)
        record: IncidentStepRecord = {
            "step": str(step),
            "outcome": str(outcome),
            "user": who,
            "note": text,
            "ts": now,
        }
        updated: Incident = {**item, "steps": [*item["steps"], record]}
        if step == "quarantine" and outcome == "done":
            if form == "vifs":
                updated["quarantine"] = await self._detach(item, record, now)
            else:
                updated["quarantine"] = await self._quarantine(item, record, now)
        elif step == "unquarantine":
            await self._unquarantine(item, record)
            updated["quarantine"] = None
        if step == "close":
            updated["state"] = "closed"
            updated["closed_at"] = now
        try:
            await self._save(updated)
        except HostStateError:
            if "label_after" in record or "vifs" in record:
                # The SecLabel (or the VIFs) changed in the MSM and on disk: the log must say so.
                self._log(
                    f"incident {item['id']} ({item['domain']}) {step}: {_change(record)} in "
                    "force, but the incident record could not be written"
                )
                self._items[item["id"]] = updated  # kept in memory at least
            raise
        self._items[item["id"]] = updated
        said = f': "{text}"' if text else ""
        if "label_after" in record or "vifs" in record:
            said += f" ({_change(record)}, generation {record['generation']})"
        self._log(f"incident {item['id']} ({item['domain']}) {step} {outcome} by {who}{said}")
        return updated

    def _require_activate(self) -> Activate:
        if self._activate is None or self._state.msm is None:
            raise HostStateError(f"cannot change SecLabels: the MSM is {self._state.msm_status}")
        return self._activate

    async def _quarantine(
        self, item: Incident, record: IncidentStepRecord, now: float
    ) -> IncidentQuarantine:
        """Binds the domain to its tag's quarantine SecLabel (one MSM transaction)."""
        if item.get("quarantine"):
            raise ConflictError(
                f"{item['domain']} is quarantined already ({item['id']}): verify restores it"
            )
        activate = self._require_activate()
        labels: dict[str, Any] = {}

        def change(policy: Policy) -> Policy:
            try:
                new, before, label = quarantined(policy, item["domain"])
            except PolicyError as exc:
                raise ConflictError(f"cannot quarantine {item['domain']}: {exc.message}") from exc
            labels.update(before=before, after=label)
            return new

        version = await activate(change)
        before, after = labels["before"], labels["after"]
        record["label_before"] = before.name
        record["label_after"] = after.name
        record["generation"] = version["generation"]
        return {
            "label_id": str(before.id),
            "label": before.name,
            "quarantine_label": after.name,
            "since": now,
        }

    async def _detach(
        self, item: Incident, record: IncidentStepRecord, now: float
    ) -> IncidentQuarantine:
        """Removes the domain's VIFs from the active policy (one MSM transaction); the
        incident keeps them (MAC, switch, IP) for unquarantine."""
        if item.get("quarantine"):
            raise ConflictError(
                f"{item['domain']} is quarantined already ({item['id']}): verify restores it"
            )
        activate = self._require_activate()
        found: dict[str, Any] = {}

        def change(policy: Policy) -> Policy:
            try:
                new, vifs = vifs_detached(policy, item["domain"])
            except PolicyError as exc:
                raise ConflictError(
                    f"cannot detach {item['domain']}'s VIFs: {exc.message}"
                ) from exc
            domain = next(d for d in policy.domains if d.name == item["domain"])
            label = next((s for s in policy.seclabels if s.id == domain.seclabel), None)
            found.update(vifs=vifs, label=label)
            return new

        version = await activate(change)
        label = found["label"]
        record["form"] = "vifs"
        record["vifs"] = found["vifs"]
        record["generation"] = version["generation"]
        return {
            "form": "vifs",
            "vifs": found["vifs"],
            "label_id": str(label.id) if label is not None else "",
            "label": label.name if label is not None else "none",
            "quarantine_label": "VIFs detached",
            "since": now,
        }

    async def _unquarantine(self, item: Incident, record: IncidentStepRecord) -> None:
        """Binds the domain again to the SecLabel it had before its quarantine (or
        attaches again the VIFs it detached)."""
        held = item.get("quarantine")
        if not held:
            raise ConflictError(f"{item['domain']} is not quarantined by {item['id']}")
        activate = self._require_activate()
        if held.get("form") == "vifs":
            detached = list(held.get("vifs") or [])

            def attach(policy: Policy) -> Policy:
                try:
                    new, _ = vifs_attached(policy, item["domain"], detached)
                except PolicyError as exc:
                    raise ConflictError(
                        f"cannot attach {item['domain']}'s VIFs again: {exc.message}; "
                        "free it, or attach them in the policy editor and skip verify's restore"
                    ) from exc
                return new

            version = await activate(attach)
            record["form"] = "vifs"
            record["vifs"] = detached
            record["generation"] = version["generation"]
            return
        labels: dict[str, str] = {}

        def change(policy: Policy) -> Policy:
            domain = next((d for d in policy.domains if d.name == item["domain"]), None)
            current = next(
                (s.name for s in policy.seclabels if domain and s.id == domain.seclabel), "none"
            )
            try:
                new, back = unquarantined(policy, item["domain"], UUID(held["label_id"]))
            except PolicyError as exc:
                raise ConflictError(
                    f"cannot restore {item['domain']}'s SecLabel {held['label']}: {exc.message}"
                ) from exc
            labels.update(before=current, after=back.name)
            return new

        version = await activate(change)
        record["label_before"] = labels["before"]
        record["label_after"] = labels["after"]
        record["generation"] = version["generation"]

    # ------------------------------------------------------------------ activations

    def keep_quarantines(self, policy: Policy, what: str) -> tuple[Policy, list[KeptQuarantine]]:
        """``policy`` (about to be activated: ``what`` is staged or previous) with every
        domain whose quarantine is in force bound to its quarantine SecLabel again, and
        what was kept (see the module doc). A domain the policy does not have, or already
        binds to a quarantine SecLabel, is left as it is.

        Raises:
            ConflictError: A quarantine cannot be kept in ``policy``: names the incident
                and the VM.
        """
        kept: list[KeptQuarantine] = []
        held = [i for i in self._items.values() if i.get("quarantine")]
        if not held:
            return policy, kept
        already = set(quarantined_domains(policy))
        names = {d.name for d in policy.domains}
        for item in sorted(held, key=_number):
            name = item["domain"]
            form = item.get("quarantine")
            if form is not None and form.get("form") == "vifs":
                # Detached VIFs stay detached: the policy activated has them without.
                policy, gone = _without_macs(policy, name, form.get("vifs") or [])
                if gone:
                    kept.append(KeptQuarantine(item["id"], name, "", ""))
                continue
            if name not in names or name in already:
                continue
            try:
                policy, before, _ = quarantined(policy, name)
            except PolicyError as exc:
                raise ConflictError(
                    f"activating the {what} policy would undo the quarantine of VM {name} "
                    f"(incident {item['id']}) and it cannot be kept there: {exc.message}; "
                    f"verify {item['id']} (unquarantine) first, or stage a policy that keeps it"
                ) from exc
            already.add(name)
            kept.append(KeptQuarantine(item["id"], name, str(before.id), before.name))
        return policy, kept

    async def kept_quarantines(
        self, kept: list[KeptQuarantine], what: str, generation: int
    ) -> None:
        """Records quarantines kept by an activation (after it is in force): each
        incident restores the SecLabel the activated policy gave its domain."""
        for k in kept:
            item = self._items.get(k.incident)
            held = item.get("quarantine") if item is not None else None
            if item is None or not held:
                continue
            if held.get("form") == "vifs":
                self._log(
                    f"incident {k.incident} ({k.domain}): VIFs kept detached on activating "
                    f"the {what} policy (generation {generation})"
                )
                continue
            updated: Incident = {
                **item,
                "quarantine": {**held, "label_id": k.label_id, "label": k.label},
            }
            self._items[k.incident] = updated
            text = (
                f"incident {k.incident} ({k.domain}): quarantine kept on activating the {what} "
                f"policy (generation {generation}); verify restores SecLabel {k.label}"
            )
            try:
                await self._save(updated)
            except HostStateError:
                text += " (the incident record could not be written)"
            self._log(text)

    async def reopen(self, id: object, user: object, note: object = None) -> Incident:
        """Opens a closed incident again (its steps are kept; the reopen is one more)."""
        item = self._get(id)
        who = checked_text("user", user, USER_MAX, required=True)
        text = checked_text("note", note, NOTE_MAX)
        assert who is not None
        if item["state"] != "closed":
            raise InvalidArgument(f"incident {item['id']} is open")
        for other in self._items.values():
            if other["domain"] == item["domain"] and other["state"] == "open":
                raise ConflictError(f"{item['domain']} already has the open incident {other['id']}")
        if len(item["steps"]) >= MAX_STEPS:
            raise InvalidArgument(f"incident {item['id']} has {MAX_STEPS} steps already")
        record: IncidentStepRecord = {
            "step": "reopen",
            "outcome": "done",
            "user": who,
            "note": text,
            "ts": round(time.time(), 3),
        }
        updated: Incident = {
            **item,
            "state": "open",
            "closed_at": None,
            "steps": [*item["steps"], record],
        }
        await self._save(updated)
        self._items[item["id"]] = updated
        said = f': "{text}"' if text else ""
        self._log(f"incident {item['id']} ({item['domain']}) reopened by {who}{said}")
        return updated

    async def get(self, id: object) -> Incident:
        """One incident in full."""
        return self._get(id)

    async def list(self, query: object = None, state: object = "all") -> IncidentList:
        """Summaries, newest first; ``query`` matches (in any case) the id, domain,
        operators and notes; ``state`` is open, closed or all."""
        if state not in ("open", "closed", "all"):
            raise InvalidArgument("state must be open, closed or all")
        text = checked_text("query", query, 128)
        needle = text.casefold() if text else None
        out: list[IncidentSummary] = []
        for item in sorted(self._items.values(), key=lambda i: -i["opened_at"]):
            if state != "all" and item["state"] != state:
                continue
            if needle is not None and needle not in _haystack(item):
                continue
            last = item["steps"][-1] if item["steps"] else None
            out.append(
                {
                    "id": item["id"],
                    "domain": item["domain"],
                    "state": item["state"],
                    "opened_by": item["opened_by"],
                    "opened_at": item["opened_at"],
                    "closed_at": item["closed_at"],
                    "triggers": len(item["triggers"]),
                    "last_step": last["step"] if last else None,
                    "last_note": next(
                        (s["note"] for s in reversed(item["steps"]) if s["note"]), None
                    ),
                }
            )
        return {"incidents": out}


def _change(record: IncidentStepRecord) -> str:
    """What a quarantine or unquarantine step changed, for the log."""
    if "vifs" in record:
        macs = ", ".join(str(v.get("mac")) for v in record["vifs"])
        verb = "attached" if record["step"] == "unquarantine" else "detached"
        return f"VIFs {macs} {verb}"
    return f"SecLabel {record.get('label_before')} -> {record.get('label_after')}"


def _without_macs(policy: Policy, domain: str, vifs: list[dict[str, Any]]) -> tuple[Policy, int]:
    """``policy`` without the VIFs of ``domain`` whose MACs are in ``vifs``."""
    config = next((d for d in policy.domains if d.name == domain), None)
    macs = {str(v.get("mac", "")).lower() for v in vifs}
    if config is None or not macs:
        return policy, 0
    kept = tuple(v for v in policy.vifs if not (v.domain == config.id and v.mac in macs))
    return dataclasses.replace(policy, vifs=kept), len(policy.vifs) - len(kept)


def _haystack(item: Incident) -> str:
    parts = [item["id"], item["domain"], item["opened_by"]]
    for s in item["steps"]:
        parts.append(s["user"])
        if s["note"]:
            parts.append(s["note"])
    return "\n".join(parts).casefold()
