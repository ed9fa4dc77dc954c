"""``xenon xe enclave|seclabel|vm|conflict|dhcp|policy|check``: the policy's commands (parsers).

Only argparse here (``xenon --help`` stays light); the commands run in ``_policy_run``
through the REST client, like the other client commands. References are UUIDs or names.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["register"]

Add = Callable[[Any, str, str, str], argparse.ArgumentParser]


def _run(args: argparse.Namespace) -> int:
    from enterprise_store.cli import _guard

    module = importlib.import_module("enterprise_store.cli._policy_run")
    return _guard(lambda: int(module.run(args)), "xe " + args.xe_action.replace(".", " "))


def _cmd(add: Add, sub: Any, name: str, action: str, help_text: str) -> argparse.ArgumentParser:
    p = add(sub, name, action, help_text)
    p.set_defaults(func=_run)
    return p


def _enclaves(sub: Any, add: Add) -> None:
    group = sub.add_parser("enclave", help="enclaves (tags) and their hosts")
    es = group.add_subparsers(dest="xe_enclave", metavar="ACTION", required=True)
    p = _cmd(add, es, "list", "enclave.list", "list enclaves")
    p.add_argument("--host", help="assigned to this host")
    p.add_argument("--q", help="text in the name")
    p = _cmd(add, es, "show", "enclave.show", "show one enclave")
    p.add_argument("ref", help="UUID or name")
    p = _cmd(add, es, "create", "enclave.create", "create an enclave (generated 128-bit UUID)")
    p.add_argument("name")
    p.add_argument("--color", help="#rrggbb")
    p.add_argument("--id", help="keep an existing tag's UUID")
    p = _cmd(add, es, "update", "enclave.update", "rename or recolour an enclave")
    p.add_argument("ref")
    p.add_argument("--name")
    p.add_argument("--color", help="#rrggbb")
    p.add_argument(
        "--requires-approval",
        choices=("on", "off"),
        help="two-person approval of the enclave's policy versions (admins; off takes a "
        "second admin's off)",
    )
    p = _cmd(add, es, "delete", "enclave.delete", "delete an enclave")
    p.add_argument("ref")
    for name, verb in (("assign", "assign an enclave to a host"),
                       ("unassign", "unassign an enclave from a host")):  # fmt: skip
        p = _cmd(add, es, name, f"enclave.{name}", verb)
        p.add_argument("enclave")
        p.add_argument("host")


def _seclabels(sub: Any, add: Add) -> None:
    group = sub.add_parser("seclabel", help="SecLabels of enclaves")
    ss = group.add_subparsers(dest="xe_seclabel", metavar="ACTION", required=True)
    p = _cmd(add, ss, "list", "seclabel.list", "list SecLabels")
    p.add_argument("--enclave")
    p.add_argument("--q", help="text in the name")
    p = _cmd(add, ss, "show", "seclabel.show", "show one SecLabel")
    p.add_argument("ref")
    for name, verb in (("create", "create a SecLabel"), ("update", "change a SecLabel")):
        p = _cmd(add, ss, name, f"seclabel.{name}", verb)
        p.add_argument("name" if name == "create" else "ref")
        if name == "update":
            p.add_argument("--name")
        p.add_argument("--enclave", required=name == "create")
        p.add_argument("--profile", required=name == "create", help="hypercall profile")
        p.add_argument("--max-rate", type=int, help="hypercalls per ms, 1..65535")
        p.add_argument("--max-violations", type=int)
    p = _cmd(add, ss, "delete", "seclabel.delete", "delete a SecLabel")
    p.add_argument("ref")


def _vm_fields(p: argparse.ArgumentParser, *, create: bool) -> None:
    p.add_argument("--enclave", required=create)
    p.add_argument("--seclabel")
    p.add_argument("--guest-type", required=create, choices=("pv", "pvh", "pvhvm", "hvm"))
    p.add_argument("--os", choices=("linux", "windows"))
    for flag in ("--kernel", "--ramdisk", "--cmdline", "--bootloader"):
        p.add_argument(flag)
    p.add_argument("--memory", type=int, metavar="MB")
    p.add_argument("--maxmem", type=int, metavar="MB")
    p.add_argument("--vcpus", type=int)
    p.add_argument("--maxvcpus", type=int)
    p.add_argument("--host", help="default: the first host in panel order with the enclave")
    run = p.add_mutually_exclusive_group()
    run.add_argument("--run", dest="run", action="store_true", default=None)
    run.add_argument("--stopped", dest="run", action="store_false", help="not meant to run")


def _vms(sub: Any, add: Add) -> None:
    group = sub.add_parser("vm", help="VMs of the XE policy (Figure 26)")
    vs = group.add_subparsers(dest="xe_vm", metavar="ACTION", required=True)
    p = _cmd(add, vs, "list", "vm.list", "list VMs")
    p.add_argument("--enclave")
    p.add_argument("--host", help="placed on this host")
    p.add_argument("--seclabel")
    p.add_argument("--q", help="text in the name")
    p = _cmd(add, vs, "show", "vm.show", "show one VM")
    p.add_argument("ref")
    p = _cmd(add, vs, "create", "vm.create", "create a VM (refused with every finding)")
    p.add_argument("name")
    _vm_fields(p, create=True)
    p = _cmd(add, vs, "update", "vm.update", "change a VM")
    p.add_argument("ref")
    p.add_argument("--name")
    _vm_fields(p, create=False)
    p = _cmd(add, vs, "delete", "vm.delete", "delete a VM")
    p.add_argument("ref")
    p = _cmd(add, vs, "network", "vm.network", "set a VM's network restrictions (Figure 28)")
    p.add_argument("ref")
    p.add_argument("--no-network", action="store_true", help="no VIF at all")
    p.add_argument("--switch", action="append", default=[], help="allowed switch (repeat)")
    p.add_argument("--max-vifs", type=int)
    p = _cmd(add, vs, "extra", "vm.extra", "set a VM's extra xl options (§4.3.4)")
    p.add_argument("ref")
    p.add_argument("option", nargs="+", metavar="KEY=VALUE")
    p = _cmd(add, vs, "vifs", "vm.vifs", "set a VM's VIFs (Figure 28; none given: remove)")
    p.add_argument("ref")
    p.add_argument(
        "vif",
        nargs="*",
        metavar="bridge=BR[,mac=MAC][,ip=IP][,model=NIC]",
        help="one per VIF, in order; model: the NIC an HVM guest emulates "
        "(e1000, rtl8139 or virtio-net; none: e1000; a PV guest ignores it)",
    )
    p = _cmd(add, vs, "disks", "vm.disks", "set a VM's disks (Figure 28; none given: remove)")
    p.add_argument("ref")
    p.add_argument(
        "disk",
        nargs="*",
        metavar="target=PATH,vdev=xvdX[,mode=r|w][,format=raw|qcow2][,devtype=cdrom]",
        help="one per disk, in order; devtype=cdrom: the guest sees a CD-ROM drive "
        "(an ISO image), read-only (mode r, the default for it); devtype=disk: a disk",
    )
    p = _cmd(add, vs, "reset-extra", "vm.reset-extra", "reset to the guest type's template")
    p.add_argument("ref")
    p = _cmd(add, vs, "config", "vm.config", "print the xl configuration XE generates")
    p.add_argument("ref")
    from enterprise_store.cli import _compute  # the VM lifecycle (argparse only)

    _compute.register_vm_actions(vs, add)


def _conflicts(sub: Any, add: Add) -> None:
    group = sub.add_parser("conflict", help="enterprise conflict sets")
    cs = group.add_subparsers(dest="xe_conflict", metavar="ACTION", required=True)
    p = _cmd(add, cs, "list", "conflict.list", "list conflict sets")
    p.add_argument("--enclave")
    p = _cmd(add, cs, "show", "conflict.show", "show one conflict set")
    p.add_argument("ref")
    p = _cmd(add, cs, "create", "conflict.create", "create a conflict set")
    p.add_argument("name")
    p.add_argument("--level", required=True, choices=("no-coresidence", "no-communication"))
    p.add_argument("--enclave", action="append", required=True, help="member (repeat, >= 2)")
    p = _cmd(add, cs, "update", "conflict.update", "change a conflict set")
    p.add_argument("ref")
    p.add_argument("--name")
    p.add_argument("--level", choices=("no-coresidence", "no-communication"))
    p.add_argument("--enclave", action="append", help="the members (repeat, replaces them)")
    p = _cmd(add, cs, "delete", "conflict.delete", "delete a conflict set")
    p.add_argument("ref")


def _dhcp(sub: Any, add: Add) -> None:
    group = sub.add_parser("dhcp", help="remote DHCP servers of enclaves (§4.3.2)")
    ds = group.add_subparsers(dest="xe_dhcp", metavar="ACTION", required=True)
    p = _cmd(add, ds, "list", "dhcp.list", "list DHCP servers")
    p.add_argument("--enclave")
    p = _cmd(add, ds, "create", "dhcp.create", "create a DHCP server")
    p.add_argument("name")
    p.add_argument("--enclave", required=True)
    p.add_argument("--interface", required=True)
    p = _cmd(add, ds, "delete", "dhcp.delete", "delete a DHCP server")
    p.add_argument("ref")


def _policy(sub: Any, add: Add) -> None:
    group = sub.add_parser("policy", help="the whole XE policy: views, check, versions")
    ps = group.add_subparsers(dest="xe_policy", metavar="ACTION", required=True)
    p = _cmd(add, ps, "show", "policy.show", "show the policy (default --text)")
    view = p.add_mutually_exclusive_group()
    for fmt, text in (("tree", "enclaves and hosts as a tree (Figures 23/30)"),
                      ("xml", "the XML document (xps.policy schema + XE extension)"),
                      ("text", "the text listing (§4.2.5)")):  # fmt: skip
        view.add_argument(f"--{fmt}", dest="format", action="store_const", const=fmt, help=text)
    p.set_defaults(format="text")
    _cmd(add, ps, "check", "policy.check", "run the consistency checker over the store")
    p = _cmd(add, ps, "versions", "policy.versions", "list committed versions, newest first")
    p.add_argument("--limit", type=int, default=20)
    p = _cmd(add, ps, "approvals", "policy.approvals",
             "versions waiting for a second admin, with the diff per enclave")  # fmt: skip
    p.add_argument("--version", type=int, help="every row of this version, whatever its state")
    p.add_argument("--whatif", action="store_true",
                   help="also each waiting version's what-if on its hosts (exit 1: it would "
                   "deny what is allowed now, or a host cannot answer)")  # fmt: skip
    p.add_argument("--minutes", type=int, default=10,
                   help="with --whatif: window of recorded behaviour")  # fmt: skip
    for verb, text in (("approve", "approve a version (an admin other than its authors)"),
                       ("reject", "reject a version (propagation stays held)")):  # fmt: skip
        p = _cmd(add, ps, verb, f"policy.{verb}", text)
        p.add_argument("version", type=int)
        p.add_argument("--note", required=True, help="why (required; goes to the audit log)")
    p = _cmd(add, ps, "whatif", "policy.whatif",
             "what the newest version would fix and deny on each host it reaches "
             "(exit 1: it would deny what is allowed now, or a host cannot answer)")  # fmt: skip
    p.add_argument("--version", type=int, help="the version (the newest only)")
    p.add_argument("--minutes", type=int, default=10, help="window of recorded behaviour")
    _cmd(add, sub, "check", "policy.check", "run the consistency checker (= policy check)")


def register(sub: Any, add: Add) -> None:
    """Adds the policy commands to ``xenon xe`` (``add`` makes a client command parser)."""
    _enclaves(sub, add)
    _seclabels(sub, add)
    _vms(sub, add)
    _conflicts(sub, add)
    _dhcp(sub, add)
    _policy(sub, add)
