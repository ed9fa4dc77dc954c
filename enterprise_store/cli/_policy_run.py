"""The policy commands of ``xenon xe``, run through the REST client (``xe.policy``).

A write prints what was stored and the policy version it made; a write the checker
refuses prints every finding with its hint and exits 1; ``policy check`` exits 1 when
the stored policy has an error finding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from enterprise_store.cli._config import CliError, resolve_remote, state_dir_of

__all__ = ["COMMANDS", "run"]

Handler = Callable[[Any, argparse.Namespace], Awaitable[int]]


def _dump(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in value]
    return json.dumps(value, indent=2, sort_keys=True)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _given(args: argparse.Namespace, names: dict[str, str]) -> dict[str, Any]:
    """Fields the user gave: ``{attribute: api_field}`` for those not None."""
    return {
        field: getattr(args, attr)
        for attr, field in names.items()
        if getattr(args, attr, None) is not None
    }


def _finding_lines(findings: Sequence[Any]) -> list[str]:
    out = []
    for f in findings:
        severity = getattr(f, "severity", "error")
        out.append(f"  {severity} {f.code}: {f.message}")
        hint = getattr(f, "hint", "")
        if hint:
            out.append(f"    hint: {hint}")
    return out


def _report(args: argparse.Namespace, what: str, written: Any) -> int:
    if args.json:
        print(_dump(written))
        return 0
    print(f"{what} (policy version {written.version})")
    warnings = getattr(written, "warnings", [])
    if warnings:
        print("warnings:")
        print("\n".join(_finding_lines(warnings)))
    return 0


async def _names(xe: Any) -> dict[str, str]:
    """Host and enclave names by UUID, for readable tables."""
    names: dict[str, str] = {}
    async for h in xe.policy.iter_hosts():
        names[h.id] = h.name
    async for e in xe.policy.iter_enclaves():
        names[e.id] = e.name
    return names


# -- enclaves ------------------------------------------------------------------------------


async def _enclave_list(xe: Any, args: argparse.Namespace) -> int:
    items = [e async for e in xe.policy.iter_enclaves(host=args.host, q=args.q)]
    if args.json:
        print(_dump(items))
        return 0
    names = await _names(xe)
    rows = [[e.name, e.id, e.color, ", ".join(names.get(h, h[:8]) for h in e.hosts)] for e in items]
    print(_table(rows, ["NAME", "UUID", "COLOUR", "HOSTS"]))
    return 0


async def _enclave_show(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.policy.get_enclave(args.ref)))
    return 0


async def _enclave_create(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.create_enclave(args.name, color=args.color, id=args.id)
    return _report(args, f"created enclave {w.item.name!r} ({w.item.id})", w)


async def _enclave_update(xe: Any, args: argparse.Namespace) -> int:
    changes = _given(args, {"name": "name", "color": "color"})
    flag = getattr(args, "requires_approval", None)
    if flag is not None:
        changes["requires_approval"] = flag == "on"
    w = await xe.policy.update_enclave(args.ref, **changes)
    if flag is not None and not args.json:
        state = (await xe.policy.approvals()).enclaves
        mine = [e for e in state if e.enclave_id == w.item.id]
        if not mine:
            print(f"enclave {w.item.name!r}: two-person approval is off")
        elif mine[0].disable_requested_by:
            print(f"enclave {w.item.name!r}: two-person approval stays on until an admin "
                  f"other than {mine[0].disable_requested_by} turns it off too")  # fmt: skip
        else:
            print(f"enclave {w.item.name!r}: two-person approval is on")
    return _report(args, f"changed enclave {w.item.name!r}", w)


async def _enclave_delete(xe: Any, args: argparse.Namespace) -> int:
    return _report(args, f"deleted enclave {args.ref!r}", await xe.policy.delete_enclave(args.ref))


async def _enclave_assign(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.assign(args.enclave, args.host)
    return _report(args, f"enclave {args.enclave!r} is assigned to host {args.host!r}", w)


async def _enclave_unassign(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.unassign(args.enclave, args.host)
    return _report(args, f"enclave {args.enclave!r} is unassigned from host {args.host!r}", w)


# -- SecLabels -----------------------------------------------------------------------------

_LABEL_FIELDS = {
    "enclave": "enclave",
    "profile": "profile",
    "max_rate": "max_rate",
    "max_violations": "max_violations",
}


async def _seclabel_list(xe: Any, args: argparse.Namespace) -> int:
    items = [s async for s in xe.policy.iter_seclabels(enclave=args.enclave, q=args.q)]
    if args.json:
        print(_dump(items))
        return 0
    names = await _names(xe)
    rows = [
        [s.name, names.get(s.enclave, s.enclave), s.profile_name or s.profile, str(s.max_rate),
         str(s.max_violations)]
        for s in items
    ]  # fmt: skip
    print(_table(rows, ["NAME", "ENCLAVE", "PROFILE", "MAX RATE", "MAX VIOLATIONS"]))
    return 0


async def _seclabel_show(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.policy.get_seclabel(args.ref)))
    return 0


async def _seclabel_create(xe: Any, args: argparse.Namespace) -> int:
    fields = _given(args, _LABEL_FIELDS)
    enclave, profile = fields.pop("enclave"), fields.pop("profile")
    w = await xe.policy.create_seclabel(args.name, enclave, profile, **fields)
    return _report(args, f"created SecLabel {w.item.name!r} ({w.item.id})", w)


async def _seclabel_update(xe: Any, args: argparse.Namespace) -> int:
    fields = _given(args, {"name": "name", **_LABEL_FIELDS})
    w = await xe.policy.update_seclabel(args.ref, **fields)
    return _report(args, f"changed SecLabel {w.item.name!r}", w)


async def _seclabel_delete(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.delete_seclabel(args.ref)
    return _report(args, f"deleted SecLabel {args.ref!r}", w)


# -- VMs -----------------------------------------------------------------------------------

_VM_FIELDS = {
    "enclave": "enclave",
    "seclabel": "seclabel",
    "guest_type": "guest_type",
    "os": "os",
    "kernel": "kernel",
    "ramdisk": "ramdisk",
    "cmdline": "cmdline",
    "bootloader": "bootloader",
    "memory": "memory_mb",
    "maxmem": "maxmem_mb",
    "vcpus": "vcpus",
    "maxvcpus": "maxvcpus",
    "host": "host",
    "run": "run",
}


async def _vm_list(xe: Any, args: argparse.Namespace) -> int:
    filters = {"enclave": args.enclave, "host": args.host, "seclabel": args.seclabel, "q": args.q}
    items = [v async for v in xe.policy.iter_vms(**filters)]
    if args.json:
        print(_dump(items))
        return 0
    names = await _names(xe)
    rows = [
        [v.name, names.get(v.enclave, v.enclave), v.guest_type,
         names.get(v.placed_on or "", v.placed_on or "-"), f"{v.memory_mb}/{v.maxmem_mb}",
         f"{v.vcpus}/{v.maxvcpus}", "yes" if v.run else "no"]
        for v in items
    ]  # fmt: skip
    print(_table(rows, ["NAME", "ENCLAVE", "TYPE", "HOST", "MEMORY MB", "VCPUS", "RUN"]))
    return 0


async def _vm_show(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.policy.get_vm(args.ref)))
    return 0


async def _vm_create(xe: Any, args: argparse.Namespace) -> int:
    fields = _given(args, _VM_FIELDS)
    enclave, guest_type = fields.pop("enclave"), fields.pop("guest_type")
    w = await xe.policy.create_vm(args.name, enclave, guest_type, **fields)
    host = w.item.host or "no host"
    names = await _names(xe)
    return _report(
        args, f"created VM {w.item.name!r} ({w.item.id}) on host {names.get(host, host)!r}", w
    )


async def _vm_update(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.update_vm(args.ref, **_given(args, {"name": "name", **_VM_FIELDS}))
    return _report(args, f"changed VM {w.item.name!r}", w)


async def _vm_delete(xe: Any, args: argparse.Namespace) -> int:
    return _report(args, f"deleted VM {args.ref!r}", await xe.policy.delete_vm(args.ref))


async def _vm_network(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.set_vm_network(
        args.ref, allow_network=not args.no_network, switches=args.switch, max_vifs=args.max_vifs
    )
    return _report(args, f"set the network restrictions of VM {w.item.name!r}", w)


async def _vm_extra(xe: Any, args: argparse.Namespace) -> int:
    pairs = []
    for option in args.option:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{option!r}: give KEY=VALUE")
        pairs.append((key.strip(), value.strip()))
    w = await xe.policy.set_vm_extra(args.ref, pairs)
    return _report(args, f"set {len(pairs)} extra xl options of VM {w.item.name!r}", w)


_DEVTYPES = {"disk": False, "cdrom": True}
"""xl's ``devtype=`` of a disk spec: XE's ``cdrom`` flag."""


def _specs(items: list[str], what: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """``key=value,key=value`` per VIF or disk (XE judges the values); a disk's
    ``devtype=cdrom|disk`` becomes XE's ``cdrom`` flag."""
    out = []
    for item in items:
        spec: dict[str, Any] = {}
        for part in item.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in keys or key in spec:
                raise CliError(f"{what} {item[:80]!r}: give {', '.join(k + '=…' for k in keys)}")
            spec[key] = value.strip()
        if "devtype" in spec:
            devtype = spec.pop("devtype")
            if devtype not in _DEVTYPES:
                raise CliError(f"{what} {item[:80]!r}: devtype is cdrom or disk")
            spec["cdrom"] = _DEVTYPES[devtype]
        out.append(spec)
    return out


async def _vm_vifs(xe: Any, args: argparse.Namespace) -> int:
    vifs = _specs(args.vif, "VIF", ("bridge", "mac", "ip", "model"))
    w = await xe.policy.set_vm_vifs(args.ref, vifs)
    return _report(args, f"set {len(vifs)} VIF(s) of VM {w.item.name!r}", w)


async def _vm_disks(xe: Any, args: argparse.Namespace) -> int:
    disks = _specs(args.disk, "disk", ("target", "vdev", "mode", "format", "devtype"))
    w = await xe.policy.set_vm_disks(args.ref, disks)
    return _report(args, f"set {len(disks)} disk(s) of VM {w.item.name!r}", w)


async def _vm_reset_extra(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.reset_vm_extra(args.ref)
    return _report(args, f"VM {w.item.name!r} uses its guest type's template again", w)


async def _vm_config(xe: Any, args: argparse.Namespace) -> int:
    sys.stdout.write(await xe.policy.vm_config(args.ref))
    return 0


# -- conflict sets, DHCP servers -----------------------------------------------------------


async def _conflict_list(xe: Any, args: argparse.Namespace) -> int:
    items = [c async for c in xe.policy.iter_conflicts(enclave=args.enclave)]
    if args.json:
        print(_dump(items))
        return 0
    names = await _names(xe)
    rows = [[c.name, c.level, ", ".join(names.get(e, e) for e in c.enclaves)] for c in items]
    print(_table(rows, ["NAME", "LEVEL", "ENCLAVES"]))
    return 0


async def _conflict_show(xe: Any, args: argparse.Namespace) -> int:
    print(_dump(await xe.policy.get_conflict(args.ref)))
    return 0


async def _conflict_create(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.create_conflict(args.name, args.level, args.enclave)
    return _report(args, f"created conflict set {w.item.name!r} ({w.item.id})", w)


async def _conflict_update(xe: Any, args: argparse.Namespace) -> int:
    fields = _given(args, {"name": "name", "level": "level", "enclave": "enclaves"})
    w = await xe.policy.update_conflict(args.ref, **fields)
    return _report(args, f"changed conflict set {w.item.name!r}", w)


async def _conflict_delete(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.delete_conflict(args.ref)
    return _report(args, f"deleted conflict set {args.ref!r}", w)


async def _dhcp_list(xe: Any, args: argparse.Namespace) -> int:
    page = await xe.policy.list_dhcp_servers(enclave=args.enclave, limit=1000)
    if args.json:
        print(_dump(page.items))
        return 0
    names = await _names(xe)
    rows = [[d.name, names.get(d.enclave, d.enclave), d.interface] for d in page.items]
    print(_table(rows, ["NAME", "ENCLAVE", "INTERFACE"]))
    return 0


async def _dhcp_create(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.create_dhcp_server(args.name, args.enclave, args.interface)
    return _report(args, f"created DHCP server {w.item.name!r} ({w.item.id})", w)


async def _dhcp_delete(xe: Any, args: argparse.Namespace) -> int:
    w = await xe.policy.delete_dhcp_server(args.ref)
    return _report(args, f"deleted DHCP server {args.ref!r}", w)


# -- the whole policy ----------------------------------------------------------------------


async def _policy_show(xe: Any, args: argparse.Namespace) -> int:
    text = await xe.policy.render("json" if args.json else args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


async def _policy_check(xe: Any, args: argparse.Namespace) -> int:
    report = await xe.policy.check()
    if args.json:
        print(_dump(report))
    else:
        errors = sum(1 for f in report.findings if f.severity == "error")
        warnings = len(report.findings) - errors
        print(f"policy version {report.version} ({report.sha256[:16]}): "
              f"{errors} errors, {warnings} warnings")  # fmt: skip
        if report.findings:
            print("\n".join(_finding_lines(report.findings)))
    return 0 if report.ok else 1


async def _policy_versions(xe: Any, args: argparse.Namespace) -> int:
    page = await xe.policy.list_versions(limit=max(1, min(args.limit, 1000)))
    if args.json:
        print(_dump(page.items))
        return 0
    rows = [[str(v.version), f"{v.at:%Y-%m-%d %H:%M:%S}", v.author, v.summary] for v in page.items]
    print(_table(rows, ["VERSION", "TIME (UTC)", "AUTHOR", "CHANGE"]))
    return 0


def _approval_lines(item: Any) -> list[str]:
    when = f"{item.created_at:%Y-%m-%d %H:%M:%S}"
    head = (f"version {item.version}  enclave {item.enclave}  {item.state}  "
            f"by {', '.join(item.authors)}  {when} UTC")  # fmt: skip
    lines = [head]
    if item.state == "pending":
        lines.append(f"  {item.approvers} may approve or reject it")
    if item.decided_by:
        lines.append(f"  {item.state} by {item.decided_by}: {item.note or ''}")
    if item.superseded_by:
        lines.append(f"  now held by version {item.superseded_by}")
    lines += ["  " + line for line in item.diff.splitlines()]
    return lines


async def _approval_whatifs(xe: Any, answer: Any, minutes: int) -> dict[int, Any]:
    """The what-if of each waiting version listed (by version; an XE refusal is kept as
    the error: the listing still shows)."""
    from enterprise_store.client import XeError

    out: dict[int, Any] = {}
    for item in answer.items:
        if item.state not in ("pending", "rejected") or item.version in out:
            continue
        try:
            out[item.version] = await xe.policy.whatif(item.version, minutes)
        except XeError as exc:
            out[item.version] = exc
    return out


def _approval_whatif_text(version: int, found: Any) -> list[str]:
    if isinstance(found, Exception):
        return [f"  what-if of version {version} unavailable: {found}"]
    if found.requested_version is not None and found.version != version:
        head = (f"  what-if of version {found.version} (the newest: it holds version "
                f"{version}'s change and newer ones), the last {found.minutes} min:")  # fmt: skip
    else:
        head = f"  what-if of version {version}, the last {found.minutes} min:"
    lines = [head]
    for host in found.hosts:
        lines += ["    " + line for line in _whatif_lines(host)]
    return lines


async def _policy_approvals(xe: Any, args: argparse.Namespace) -> int:
    answer = await xe.policy.approvals(args.version)
    whatifs = await _approval_whatifs(xe, answer, args.minutes) if args.whatif else {}
    bad = any(
        isinstance(w, Exception) or w.denies_allowed or w.unanswered for w in whatifs.values()
    )
    if args.json:
        if not args.whatif:
            print(_dump(answer))
            return 0
        whatif = {
            str(v): {"error": str(w)} if isinstance(w, Exception) else w.model_dump(mode="json")
            for v, w in whatifs.items()
        }
        print(_dump({"approvals": answer.model_dump(mode="json"), "whatif": whatif}))
        return 1 if bad else 0
    flagged = ", ".join(e.enclave for e in answer.enclaves) or "none"
    print(f"enclaves requiring two-person approval: {flagged}")
    if not answer.items:
        print("nothing waits for approval" if args.version is None else "no such version")
        return 0
    if answer.held:
        print("propagation is held for the hosts of these enclaves until they are approved:")
    shown: set[int] = set()
    for item in answer.items:
        print("\n".join(_approval_lines(item)))
        if item.version in whatifs and item.version not in shown:
            shown.add(item.version)
            print("\n".join(_approval_whatif_text(item.version, whatifs[item.version])))
    return 1 if bad else 0


async def _policy_decide(xe: Any, args: argparse.Namespace, *, approve: bool) -> int:
    decide = xe.policy.approve if approve else xe.policy.reject
    items = await decide(args.version, args.note)
    if args.json:
        print(_dump(items))
        return 0
    names = ", ".join(i.enclave for i in items if i.version == args.version)
    print(f"policy version {args.version} {'approved' if approve else 'rejected'} ({names})")
    held = await xe.policy.approvals()
    if held.held:
        print(f"propagation is still held: {len(held.items)} change(s) wait")
    return 0


async def _policy_approve(xe: Any, args: argparse.Namespace) -> int:
    return await _policy_decide(xe, args, approve=True)


async def _policy_reject(xe: Any, args: argparse.Namespace) -> int:
    return await _policy_decide(xe, args, approve=False)


def _whatif_lines(host: Any) -> list[str]:
    """One host's what-if in words, its denials first."""
    if host.state == "unchanged":
        return [f"{host.host}: unchanged (its slice would not change)"]
    if host.state != "answered" or host.result is None:
        return [f"{host.host}: could not answer: {host.error}"]
    result = host.result
    head = "WOULD DENY behaviour allowed now" if host.denies_allowed else "denies nothing"
    lines = [f"{host.host}: {head}"]
    lines += [f"  {row['text']}" for row in result.get("denied_calls") or []]
    lines += [f"  {row['text']}" for row in result.get("domains") or []]
    for c in result.get("channels") or []:
        verdict = "allowed" if c.get("staged") else "denied"
        lines.append(f"  channel {c.get('a')} <-> {c.get('b')}: would be {verdict}")
    for d in result.get("devices") or []:
        verdict = "allowed" if d.get("staged") else "denied"
        lines.append(f"  device {d.get('device')} -> {d.get('domain')}: would be {verdict}")
    fixed = result.get("fixed") or []
    if fixed:
        total = sum(int(f.get("count") or 0) for f in fixed)
        lines.append(f"  fixes {total:,} recorded violations ({len(fixed)} kinds)")
    return lines


async def _policy_whatif(xe: Any, args: argparse.Namespace) -> int:
    answer = await xe.policy.whatif(args.version, args.minutes)
    if args.json:
        print(_dump(answer))
    else:
        print(f"policy version {answer.version}, the last {answer.minutes} min:")
        for host in answer.hosts:
            print("\n".join(_whatif_lines(host)))
    return 1 if answer.denies_allowed or answer.unanswered else 0


COMMANDS: dict[str, Handler] = {
    "enclave.list": _enclave_list,
    "enclave.show": _enclave_show,
    "enclave.create": _enclave_create,
    "enclave.update": _enclave_update,
    "enclave.delete": _enclave_delete,
    "enclave.assign": _enclave_assign,
    "enclave.unassign": _enclave_unassign,
    "seclabel.list": _seclabel_list,
    "seclabel.show": _seclabel_show,
    "seclabel.create": _seclabel_create,
    "seclabel.update": _seclabel_update,
    "seclabel.delete": _seclabel_delete,
    "vm.list": _vm_list,
    "vm.show": _vm_show,
    "vm.create": _vm_create,
    "vm.update": _vm_update,
    "vm.delete": _vm_delete,
    "vm.network": _vm_network,
    "vm.extra": _vm_extra,
    "vm.reset-extra": _vm_reset_extra,
    "vm.vifs": _vm_vifs,
    "vm.disks": _vm_disks,
    "vm.config": _vm_config,
    "conflict.list": _conflict_list,
    "conflict.show": _conflict_show,
    "conflict.create": _conflict_create,
    "conflict.update": _conflict_update,
    "conflict.delete": _conflict_delete,
    "dhcp.list": _dhcp_list,
    "dhcp.create": _dhcp_create,
    "dhcp.delete": _dhcp_delete,
    "policy.show": _policy_show,
    "policy.check": _policy_check,
    "policy.versions": _policy_versions,
    "policy.approvals": _policy_approvals,
    "policy.approve": _policy_approve,
    "policy.reject": _policy_reject,
    "policy.whatif": _policy_whatif,
}


def run(args: argparse.Namespace) -> int:
    """Runs the policy command ``args.xe_action`` against the service."""
    from enterprise_store._errors import PolicyRefused, XeError
    from enterprise_store.client import XeClient

    handler = COMMANDS[args.xe_action]
    remote = resolve_remote(
        state_dir=state_dir_of(args.state_dir, required=False),
        url=args.url,
        token_file=args.token_file,
        ca=args.ca,
    )

    async def main() -> int:
        async with XeClient(
            remote.url, token=remote.token, ca=remote.ca, timeout=args.timeout
        ) as xe:
            return await handler(xe, args)

    what = "xenon xe " + args.xe_action.replace(".", " ")
    try:
        return asyncio.run(main())
    except PolicyRefused as exc:
        print(f"{what}: refused by the policy checker:", file=sys.stderr)
        print("\n".join(_finding_lines(exc.findings)), file=sys.stderr)
        return 1
    except XeError as exc:
        print(f"{what}: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
