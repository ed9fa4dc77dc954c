"""What the consistency checker reports: findings with stable codes, and the rule catalogue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from xps.policy import Severity

from .._errors import PolicyRefused

__all__ = ["MIGRATION_RULES", "RULES", "Finding", "Severity", "errors_only", "refuse_errors"]


@dataclass(frozen=True)
class Finding:
    """One reason why an enterprise policy (or a change, or a migration) is refused.

    Attributes:
        code: Stable code (``XE-VM-NO-SECLABEL``); see :data:`RULES`.
        severity: Errors refuse a write; warnings are shown and let it pass.
        message: One sentence naming each object by name and UUID.
        objects: Names of the objects concerned, the offending one first.
        ids: Their UUIDs where they have one, in the same order.
        kind: Type of the offending object (``vm``, ``seclabel``, ``host`` …).
        field: The offending field, or None for the object as a whole.
        hint: The obvious fix, where there is one ("create a SecLabel in Enclave A
            first"); empty otherwise.
    """

    code: str
    severity: Severity
    message: str
    objects: tuple[str, ...]
    ids: tuple[UUID, ...]
    kind: str
    field: str | None = None
    hint: str = ""


RULES: dict[str, str] = {
    # identity and names
    "XE-NAME-INVALID": "names are 1..63 bytes without quotes, backslashes, control characters "
    "or edge spaces",
    "XE-DUP-NAME": "names are unique per object type (VM names enterprise-wide)",
    "XE-DUP-ID": "UUIDs are unique per object type",
    # hosts (§4.2.2)
    "XE-HOST-ADDRESS": "a host's management address is an IP address or a DNS name",
    "XE-HOST-PORT": "a host's management port is 1..65535",
    "XE-HOST-ENDPOINT": "no two hosts share one management address and port",
    "XE-HOST-ORDER": "hosts have distinct positions in the Hosts panel (warning)",
    "XE-HOST-CPU": "CPU facts are well formed: a vendor, numbers >= 0, flag names",
    "XE-HOST-SWITCH-ENCLAVE": "a switch known on a host serves an existing enclave",
    "XE-COLOR": "colours are RGB, each 0..255",
    # enclaves and assignments (§4.2.3, §4.2.4)
    "XE-ENCLAVE-NO-HOST": "every enclave is assigned to at least one host (warning)",
    "XE-ASSIGN-UNKNOWN": "an assignment names an existing enclave and an existing host",
    # profiles and SecLabels (§4.2.5, Figure 25)
    "XE-PROFILE-INVALID": "profiles name hypercalls 0..63 and sub-ops 0..255, in XML-safe text",
    "XE-SECLABEL-ENCLAVE": "a SecLabel belongs to an existing enclave",
    "XE-SECLABEL-PROFILE": "a SecLabel's hypercall profile exists",
    "XE-SECLABEL-RATE": "a SecLabel's max hypercall rate is 1..65535 per ms",
    "XE-SECLABEL-VIOLATIONS": "a SecLabel's max violations is 0..4294967295",
    "XE-SECLABEL-ROLE": "a SecLabel's guest role is none: XE supports no service domains",
    # VMs (§4.2.1, §4.2.5, Figure 26, §4.3.4)
    "XE-VM-ENCLAVE": "every VM belongs to one existing enclave",
    "XE-VM-NO-SECLABEL": "every VM has a SecLabel",
    "XE-VM-SECLABEL-UNKNOWN": "a VM's SecLabel exists",
    "XE-VM-SECLABEL-ENCLAVE": "a VM's SecLabel is one of its own enclave's",
    "XE-VM-GUEST-TYPE": "a VM's guest type suits its SecLabel's hypercall profile",
    "XE-VM-BOOT": "PV: a kernel or a bootloader; PVH: a kernel; a bootloader only for PV",
    "XE-VM-MEMORY": "a VM's memory is 1..max memory MB (max < 2^32)",
    "XE-VM-VCPUS": "a VM's VCPUs are 1..max VCPUs (max < 2^32)",
    "XE-VM-XL-STRING": "kernel, ramdisk, command line and bootloader carry no quotes or "
    "control characters",
    "XE-VM-HOST-UNKNOWN": "a VM's host exists",
    "XE-VM-HOST-ENCLAVE": "a VM resides on a host that carries its enclave",
    "XE-VM-NO-HOST": "a VM without a host has a default host: some host carries its enclave",
    "XE-VM-EXTRA-FORBIDDEN": "extra xl options never set what the policy or the host owns "
    "(labels, devices and passthrough, network, disks, display)",
    "XE-VM-EXTRA-INVALID": "extra xl options are one-line numbers, quoted strings or lists",
    "XE-VM-NETWORK": "network restrictions are well formed",
    "XE-VM-VIF": "a VM's VIFs name a valid bridge (one it may use), a unicast MAC and an IP "
    "address, within its network restrictions",
    "XE-VM-DISK": "a VM's disks name an absolute target without . or .. (phy: a /dev device), "
    "a distinct xvd/hd vdev, mode r or w and format raw or qcow2",
    # conflict sets (§2.1.3, enterprise-wide)
    "XE-CONFLICT-ENCLAVES": "a conflict set names two or more distinct enclaves",
    "XE-CONFLICT-UNKNOWN": "a conflict set names existing enclaves",
    "XE-CONFLICT-CORESIDENT": "no two VMs of a no-coresidence set are placed on one host "
    "and both meant to run",
    # remote DHCP servers (§4.3.2)
    "XE-DHCP-ENCLAVE": "a DHCP server serves an existing enclave",
    "XE-DHCP-INTERFACE": "a DHCP server's interface is a valid interface name",
}
"""Every rule :func:`enterprise_store.checker.check` applies, by code."""

MIGRATION_RULES: dict[str, str] = {
    "XE-MIG-UNKNOWN": "the VM and the target host exist",
    "XE-MIG-SAME-HOST": "the target is not the host the VM is on",
    "XE-MIG-ENCLAVE": "the target carries the VM's enclave",
    "XE-MIG-CPU-UNKNOWN": "the CPU facts of source and target are known",
    "XE-MIG-CPU-VENDOR": "source and target CPUs have the same vendor",
    "XE-MIG-CPU-FLAGS": "the source CPU's flags are a subset of the target's",
    "XE-MIG-STORAGE": "source and target share a storage declared shared",
    "XE-MIG-SWITCH": "the target has a network switch of the VM's enclave",
    "XE-MIG-CONFLICT": "no VM running on the target is in a no-coresidence set with the VM",
}
"""Every rule of :func:`enterprise_store.checker.check_migration` (§4.2.1, §4.4)."""


def errors_only(findings: Iterable[Finding]) -> list[Finding]:
    """Returns the findings of severity ERROR."""
    return [f for f in findings if f.severity is Severity.ERROR]


def refuse_errors(findings: Iterable[Finding]) -> list[Finding]:
    """Raises PolicyRefused with every error finding; returns the warnings otherwise.

    Raises:
        PolicyRefused: At least one finding is an error.
    """
    found = list(findings)
    errors = errors_only(found)
    if errors:
        raise PolicyRefused(errors)
    return found
