"""``xenon policy``: sample, validate, diff, sign/verify, templates, the config generators,
and ``whatif`` (what a policy would do on a host before it is made active).

Exit status: 0 success, 1 the policy failed (validation errors, refused signature,
incomplete template, a configuration that cannot be generated safely, differing
policies for ``diff``, a ``whatif`` that would deny behaviour allowed now or a policy
the host refuses), 2 bad usage, unreadable input or an unreachable host. Errors are one
line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from xps.cli._secrets import SecretError, read_secret
from xps.files import read_bounded, write_atomic
from xps.policy import (
    Finding,
    Hardware,
    Policy,
    PolicyError,
    PolicyLookupError,
    PolicySignatureError,
    Severity,
    TemplateError,
    TemplateIncomplete,
    diff,
    export_template,
    instantiate_template,
    parse_policy,
    parse_template,
    policy_from_element,
    sample_policy,
    serialize_policy,
    serialize_template,
    sign_policy,
    source_mapping,
    validate,
    verify_signature,
)
from xps.policy.generators import (
    GeneratorError,
    iptables_rules,
    local_dnsmasq,
    ovs_commands,
    remote_dnsmasq,
    xl_config,
)

__all__ = ["main", "parse_mapping", "register"]

_MAX_INPUT = 64 * 1024 * 1024
_MAPPING_HELP = """\
mapping file: either JSON ({"net-controller-Enclave-A": "0000:03:00.0", ...}) or
text lines "PLACEHOLDER = ID" ('#' starts a comment). IDs: a PCI address for
*-controller and pci-device placeholders, a device path for disk and input-device,
BUS:DEV for usb-device. The target inventory is --hardware FILE (a policy XML whose
hardware section is used) or, by default, this host's hardware discovered under --root.
"""


class _UsageError(Exception):
    """Bad arguments or unreadable input: exit status 2."""

    code = "usage"


# ------------------------------------------------------------------------------ I/O


def _read(path: Path, what: str) -> bytes:
    return read_bounded(path, _MAX_INPUT, _UsageError, name=f"{what} {path}")


def _write(out: Path | None, data: bytes) -> None:
    """Writes to stdout, or atomically (same-dir temp, fsync, rename, fsync dir) with 0600."""
    if out is None or str(out) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        write_atomic(out, data, mode=0o600)
    except OSError as exc:
        raise _UsageError(f"cannot write {out}: {exc.strerror}") from exc


def _policy(path: Path) -> Policy:
    return parse_policy(_read(path, "policy"))


def _emit(args: argparse.Namespace, text: str, doc: Any) -> None:
    if getattr(args, "json", False):
        print(json.dumps(doc, indent=2, sort_keys=True))
    elif text:
        print(text)


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "severity": f.severity.value,
        "message": f.message,
        "object_type": f.object_type,
        "object_id": None if f.object_id is None else str(f.object_id),
        "object_name": f.object_name,
        "field": f.field,
    }


def parse_mapping(text: str) -> dict[str, str]:
    """Parses a placeholder mapping: a JSON object or ``name = id`` lines.

    Raises:
        TemplateError: Malformed JSON, a line without ``=``, or a name given twice.
    """
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TemplateError(
                f"mapping is not valid JSON: {exc}", code="policy.template.mapping"
            ) from exc
        if not isinstance(doc, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in doc.items()
        ):
            raise TemplateError(
                "mapping JSON must map strings to strings", code="policy.template.mapping"
            )
        return dict(doc)
    out: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise TemplateError(
                f"mapping line {n}: expected 'PLACEHOLDER = ID', got {raw.strip()!r}",
                code="policy.template.mapping",
            )
        if name in out:
            raise TemplateError(
                f"mapping line {n}: {name} given twice", code="policy.template.mapping"
            )
        out[name] = value
    return out


# ------------------------------------------------------------------------- commands


def _sample(args: argparse.Namespace) -> int:
    _write(args.out, serialize_policy(sample_policy()))
    return 0


def _validate(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    findings = validate(policy)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    lines = [f"{f.severity.value:7} {f.code} {f.message}" for f in findings]
    summary = f"{args.file}: {len(errors)} error(s), {len(findings) - len(errors)} warning(s)"
    _emit(
        args,
        "\n".join([*lines, summary]),
        {"file": str(args.file), "valid": not errors, "findings": [_finding(f) for f in findings]},
    )
    return 1 if errors else 0


def _diff(args: argparse.Namespace) -> int:
    d = diff(_policy(args.a), _policy(args.b))
    lines = [f"policy {c.field}: {c.old} -> {c.new}" for c in d.attributes]
    for s in d.sections:
        lines += [f"+ {s.section} {r.name} ({r.key})" for r in s.added]
        lines += [f"- {s.section} {r.name} ({r.key})" for r in s.removed]
        for ch in s.changed:
            lines += [f"~ {s.section} {ch.name}: {c.field}: {c.old} -> {c.new}" for c in ch.changes]
    _emit(args, "\n".join(lines) if lines else "policies are identical", d.to_dict())
    return 1 if d else 0


def _is_template(data: bytes) -> bool:
    # Peek at the root element only; the real parse (hardened, XSD) follows.
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True)
    try:
        parser.feed(data[:65536])
        for _event, element in parser.read_events():
            tag = getattr(element, "tag", "")
            return isinstance(tag, str) and tag.endswith("}template")
    except etree.XMLSyntaxError:
        pass
    return False


def _sign(args: argparse.Namespace) -> int:
    data = _read(args.file, "policy")
    document: Any
    if _is_template(data):
        # A template's policy lacks its hardware by design: only its shape is checked.
        document = etree.fromstring(serialize_template(parse_template(data)))
        what = "template"
    else:
        document = parse_policy(data)
        what = "policy"
        errors = [f for f in validate(document) if f.severity is Severity.ERROR]
        if errors:
            raise PolicyError(
                f"refusing to sign a policy with {len(errors)} validation error(s), first: "
                f"{errors[0].code} {errors[0].message}",
                code="policy.invalid",
            )
    password = read_secret(
        value=None, file=args.password_file, env="XENON_KEY_PASS", prompt="", required=False
    )
    # sign_policy refuses a certificate that `verify` would refuse, before anything is
    # written; with --ca it also checks the chain as `verify --ca` will.
    signed = sign_policy(
        document,
        _read(args.key, "private key"),
        _read(args.cert, "certificate"),
        password=password.encode() if password else None,
        trust=[_read(p, "CA file") for p in args.ca] if args.ca else None,
    )
    _write(args.out, signed)
    if args.out is not None and str(args.out) != "-":
        print(f"signed {what} written to {args.out}", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace) -> int:
    data = _read(args.file, "signed policy")
    trust = [_read(p, "CA file") for p in args.ca]
    doc = verify_signature(data, trust)
    # Built only from the verified, signed content.
    if etree.QName(doc.element).localname == "template":
        tpl = parse_template(doc.data)
        policy, kind, body = tpl.policy, "template", serialize_template(tpl)
    else:
        policy = policy_from_element(doc.element)
        kind, body = "policy", serialize_policy(policy)
    if args.out is not None:
        _write(args.out, body)
    _emit(
        args,
        f"OK: {args.file} signed by {doc.signer_subject}\n"
        f"    certificate SHA-256 {doc.fingerprint}\n"
        f"    {kind} {policy.name} v{policy.version} ({policy.uuid})",
        {
            "valid": True,
            "kind": kind,
            "signer": doc.signer_subject,
            "fingerprint": doc.fingerprint,
            "algorithm": doc.algorithm,
            "policy": {"name": policy.name, "version": policy.version, "uuid": str(policy.uuid)},
        },
    )
    return 0


def _template(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    tpl = export_template(policy)
    _write(args.out, serialize_template(tpl))
    if args.mapping_out is not None:
        lines = ["# placeholder = this host's hardware (edit for the target host)"]
        lines += [f"{k} = {v}" for k, v in sorted(source_mapping(policy).items())]
        _write(args.mapping_out, ("\n".join(lines) + "\n").encode())
    if args.out is not None and str(args.out) != "-":
        rows = [f"  {p.name} ({p.kind.value})" for p in tpl.placeholders]
        print("\n".join([f"template written to {args.out}; placeholders:", *rows]), file=sys.stderr)
    return 0


def _hardware(args: argparse.Namespace) -> Hardware:
    if args.hardware is not None:
        return _policy(args.hardware).hardware
    from xps.host import discover_hardware

    return discover_hardware(args.root)


def _instantiate(args: argparse.Namespace) -> int:
    tpl = parse_template(_read(args.template, "template"))
    mapping = parse_mapping(_read(args.mapping, "mapping").decode("utf-8", "replace"))
    result = instantiate_template(tpl, _hardware(args), mapping)
    rows = []
    for st in result.placeholders:
        mark = "ok" if st.bound_to else "!"
        target = st.bound_to or "missing"
        rows.append(f"[{mark:2}] {st.name:36} {st.kind.value:18} {st.tag_name:16} {target}")
    rows += [f"{f.severity.value:7} {f.code} {f.message}" for f in result.findings]
    doc = {
        "complete": result.complete,
        "placeholders": [
            {
                "name": s.name,
                "kind": s.kind.value,
                "tag": s.tag_name,
                "state": s.state,
                "bound_to": s.bound_to,
            }
            for s in result.placeholders
        ],
        "findings": [_finding(f) for f in result.findings],
    }
    if result.complete:
        _write(args.out, serialize_policy(result.policy))
    # The report must not mix with a policy written to stdout.
    report = json.dumps(doc, indent=2, sort_keys=True) if args.json else "\n".join(rows)
    print(report, file=sys.stderr if str(args.out) == "-" else sys.stdout)
    if not result.complete:
        raise TemplateIncomplete(result.missing, result.errors)
    return 0


def _domain_id(policy: Policy, name: str | None) -> Any:
    return None if name is None else policy.domain_named(name).id


def _xlcfg(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    password = None
    if args.vnc_password_file is not None:
        password = read_secret(
            value=None, file=args.vnc_password_file, env="", prompt="", required=True
        )
    _write(args.out, xl_config(policy, args.domain, vnc_password=password).encode())
    return 0


def _dnsmasq(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    if args.remote:
        if not args.interface:
            raise _UsageError("--remote needs --interface IF (the DHCP server's interface)")
        text = remote_dnsmasq(policy, args.interface)
    else:
        text = local_dnsmasq(policy, _domain_id(policy, args.driver_domain))
    _write(args.out, text.encode())
    return 0


def _firewall(args: argparse.Namespace) -> int:
    policy = _policy(args.file)
    dd = _domain_id(policy, args.driver_domain)
    if args.ovs:
        nics = {}
        for item in args.nic or []:
            bdf, sep, name = item.partition("=")
            if not sep:
                raise _UsageError(f"--nic wants BDF=IFNAME, got {item!r}")
            nics[bdf.strip()] = name.strip()
        cmds = ovs_commands(policy, nics, sysfs=args.root / "sys", driver_domain=dd)
        if args.json:
            text = json.dumps(cmds, indent=2) + "\n"
        else:
            text = "".join(shlex.join(c) + "\n" for c in cmds)
    else:
        text = iptables_rules(policy, args.uplink, driver_domain=dd)
    _write(args.out, text.encode())
    return 0


# ------------------------------------------------------------------------- parser


def _printable(text: object) -> str:
    """Host-supplied text with control characters escaped (never drives the terminal)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))


def _whatif_text(host: str, out: dict[str, Any]) -> str:
    p = _printable
    lines = [f"what-if: {p(out['policy_name'])} on {p(host)} (last {out['minutes']} min)"]
    denied = [p(r["text"]) for r in out["denied_calls"]]
    denied += [p(d["text"]) for d in out["domains"]]
    denied += [
        f"channel {p(c['a'])} <-> {p(c['b'])}: allowed now, denied"
        for c in out["channels"]
        if c["active"]
    ]
    denied += [
        f"device {p(d['device'])} -> {p(d['domain'])}: allowed now, denied"
        for d in out["devices"]
        if d["active"]
    ]
    if denied:
        lines.append("WOULD DENY what is allowed now:")
        lines += [f"  {t}" for t in denied]
    else:
        lines.append("denies nothing that is allowed now")
    opened = [f"channel {p(c['a'])} <-> {p(c['b'])}" for c in out["channels"] if c["staged"]]
    opened += [
        f"device {p(d['device'])} -> {p(d['domain'])}" for d in out["devices"] if d["staged"]
    ]
    if opened:
        lines.append("would allow what is denied now:")
        lines += [f"  {t}" for t in opened]
    if out["fixed"]:
        lines.append("violations it would allow (fixed):")
        for f in out["fixed"]:
            what = f"{p(f['hypercall_name'])}/{f['subop']}"
            if f["peer"] is not None:
                what += f" to domain {f['peer']}"
            lines.append(f"  {p(f['domain'])}: {f['count']:,} {p(f['kind'])} violation(s), {what}")
    if out["rate_not_evaluated"]:
        lines.append(f"rate violations not evaluated: {out['rate_not_evaluated']:,}")
    return "\n".join(lines)


def _whatif(args: argparse.Namespace) -> int:
    from xps.cli.xps import _call_async  # the one place TLS client flags become a client
    from xps.client import RemoteError, XpsError
    from xps.server import ConfigError, parse_address

    data = _read(args.file, "policy")
    try:
        xml = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UsageError(f"policy {args.file} is not UTF-8") from exc
    if not 1 <= args.minutes <= 1440:
        raise _UsageError("--minutes must be within 1..1440")
    try:
        address = parse_address(args.host, "HOST:PORT")
    except ConfigError as exc:
        raise _UsageError(str(exc)) from exc
    if address is None:
        raise _UsageError("--host HOST:PORT is required")
    args.method = "WhatIf"
    try:
        out = asyncio.run(_call_async(args, address, {"xml": xml, "minutes": args.minutes}))
    except RemoteError as exc:
        print(f"xenon policy whatif: {exc.code}: {_printable(exc)}", file=sys.stderr)
        return 1
    except XpsError as exc:
        print(f"xenon policy whatif: {exc.code}: {_printable(exc)}", file=sys.stderr)
        return 2
    _emit(args, _whatif_text(args.host, out), out)
    return 1 if out["denies_allowed"] else 0


def _run(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (_UsageError, SecretError, PolicyLookupError) as exc:
            print(f"xenon policy: {exc.code}: {exc}", file=sys.stderr)
            return 2
        except (PolicySignatureError, TemplateIncomplete, GeneratorError) as exc:
            print(f"xenon policy: {exc.code}: {exc}", file=sys.stderr)
            return 1
        except TemplateError as exc:
            print(f"xenon policy: {exc.code}: {exc}", file=sys.stderr)
            return 2
        except PolicyError as exc:
            # Malformed or schema-invalid input is a usage error; a policy that
            # parses but fails a check (sign refusing errors) is a failure.
            print(f"xenon policy: {exc.code}: {exc}", file=sys.stderr)
            return 1 if exc.code == "policy.invalid" else 2

    return wrapper


def register(subparsers: Any) -> None:
    """Adds ``xenon policy`` and its sub-commands."""
    top = subparsers.add_parser(
        "policy",
        help="validate, diff, sign, template and generate configs from policies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="policy_command", metavar="ACTION")
    sub.required = True

    def add(name: str, fn: Callable[[argparse.Namespace], int], help_text: str, **kw: Any) -> Any:
        p = sub.add_parser(name, help=help_text, description=help_text, **kw)
        p.set_defaults(func=_run(fn))
        return p

    def out(p: Any, required: bool = False) -> None:
        p.add_argument(
            "-o",
            "--out",
            type=Path,
            required=required,
            help="output file (written atomically, mode 0600; '-' = stdout)",
        )

    p = add("sample", _sample, "print the sample host policy XML (§4.2-§4.3)")
    out(p)

    p = add("validate", _validate, "check a policy; exit 0 only without errors")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="findings as JSON")

    p = add("diff", _diff, "show what differs from A to B; exit 0 identical, 1 different")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--json", action="store_true")

    p = add("sign", _sign, "sign a policy or template (enveloped XML-DSig, certificate embedded)")
    p.add_argument("file", type=Path)
    p.add_argument("--key", type=Path, required=True, help="signer private key (PEM)")
    p.add_argument("--cert", type=Path, required=True, help="signer certificate (+chain) PEM")
    p.add_argument(
        "--password-file", type=Path, help="password of an encrypted key (else $XENON_KEY_PASS)"
    )
    p.add_argument(
        "--ca",
        type=Path,
        action="append",
        help="also check that the certificate chains to this CA, as verify will (repeatable)",
    )
    out(p, required=True)

    p = add(
        "verify", _verify, "verify a signed policy or template; exit 0 only when valid and trusted"
    )
    p.add_argument("file", type=Path)
    p.add_argument(
        "--ca",
        type=Path,
        action="append",
        required=True,
        help="trusted CA certificate file (repeatable)",
    )
    p.add_argument("--json", action="store_true")
    out(p)

    p = add("template", _template, "export a policy as a template (hardware -> placeholders)")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--mapping-out", type=Path, help="also write this host's mapping (a starting point)"
    )
    out(p, required=True)

    p = add(
        "instantiate",
        _instantiate,
        "bind a template to this host's hardware",
        epilog=_MAPPING_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("template", type=Path)
    p.add_argument("--mapping", type=Path, required=True, help="placeholder mapping file")
    p.add_argument("--hardware", type=Path, help="policy XML holding the target inventory")
    p.add_argument("--root", type=Path, default=Path("/"), help="discovery root (tests)")
    p.add_argument("--json", action="store_true")
    out(p, required=True)

    p = add("xlcfg", _xlcfg, "print a domain's xl configuration")
    p.add_argument("file", type=Path)
    p.add_argument("domain")
    p.add_argument(
        "--vnc-password-file",
        type=Path,
        help="VNC password for a VNC-enabled domain (required then)",
    )
    out(p)

    p = add("dnsmasq", _dnsmasq, "print the local (or --remote) dnsmasq file")
    p.add_argument("file", type=Path)
    p.add_argument("--remote", action="store_true", help="remote DHCP server format (§4.3.2)")
    p.add_argument("--interface", help="the remote DHCP server's interface")
    p.add_argument("--driver-domain", help="switches of this network driver domain")
    out(p)

    p = add("firewall", _firewall, "print iptables-restore rules (or --ovs commands)")
    p.add_argument("file", type=Path)
    p.add_argument("--ovs", action="store_true", help="Open vSwitch commands instead")
    p.add_argument("--uplink", help="host uplink interface for NAT switches")
    p.add_argument(
        "--nic",
        action="append",
        metavar="BDF=IFNAME",
        help="interface name of a controller (else read from sysfs)",
    )
    p.add_argument("--driver-domain", help="switches of this network driver domain")
    p.add_argument("--root", type=Path, default=Path("/"), help="sysfs root prefix (tests)")
    p.add_argument("--json", action="store_true", help="OVS commands as JSON argv lists")
    out(p)

    from xps.cli.xps import _tls_flags

    p = add(
        "whatif",
        _whatif,
        "what a policy would do on a host if made active now: exit 0 when it denies nothing "
        "allowed now, 1 when it would (calls made, running domains, channels, devices)",
    )
    p.add_argument("file", type=Path, help="the staged policy XML")
    p.add_argument("--host", required=True, metavar="HOST:PORT", help="the host's XPS")
    p.add_argument("--minutes", type=int, default=10, help="recorded window (1..1440)")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--server-name", help="name to verify in the server certificate")
    p.add_argument("--json", action="store_true", help="the WhatIf result as JSON")
    _tls_flags(p, required_ca=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``xenon policy ARGV`` on its own (``python -m xps.cli.policy``); returns the status."""
    parser = argparse.ArgumentParser(prog="xenon")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["policy", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
