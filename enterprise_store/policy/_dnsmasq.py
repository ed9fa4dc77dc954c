"""The remote DHCP servers' dnsmasq files (§4.3.2), generated instead of written by hand.

A bridged enclave network with local DHCP disabled is served by the enclave's
dedicated DHCP server. Its file needs every host's switch of that enclave (subnet,
router, DNS, search domain) and every VIF on those switches (MAC, IP, VM name): the
hosts own those objects (§4.3.1), XE owns which servers exist and which hosts carry
the enclave. The lines themselves come from ``xps.policy.generators.remote_dnsmasq``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from uuid import UUID

from xps.policy import DomainConfig, GuestType, NetworkSwitch, Policy, Severity, Tag, Vif
from xps.policy.generators import GeneratorError, remote_dnsmasq

from .._errors import PolicyRefused
from ..checker import Finding
from ..model import DhcpServer, EnterprisePolicy

__all__ = ["DHCP_RULES", "remote_dnsmasq_files"]

DHCP_RULES: dict[str, str] = {
    "XE-DHCP-CONFLICT": "a MAC address has one IP address and an IP address one MAC "
    "across the hosts a DHCP server serves",
    "XE-DHCP-INVALID": "the hosts' switches and VIFs of the enclave render as a safe dnsmasq file",
}
"""The codes :func:`remote_dnsmasq_files` refuses with."""


def _refuse(server: DhcpServer, code: str, text: str, names: tuple[str, ...] = ()) -> Finding:
    return Finding(
        code,
        Severity.ERROR,
        f"dhcp server {server.name!r} ({server.id}): {text}",
        (server.name, *names),
        (server.id,),
        "dhcp server",
    )


def _subnet(sw: NetworkSwitch) -> str:
    try:
        return str(ipaddress.IPv4Network(f"{sw.ip}/{sw.netmask}", strict=False))
    except ValueError:
        return f"{sw.ip}/{sw.netmask}"  # rendered (and refused) by the generator


class _Collected:
    """The switches and VIFs one server serves, gathered host by host (panel order)."""

    def __init__(self, server: DhcpServer) -> None:
        self.server = server
        self.reps: dict[str, NetworkSwitch] = {}  # subnet -> the first switch serving it
        self.vifs: dict[str, tuple[Vif, str]] = {}  # MAC -> (VIF on the rep, host name)
        self.ips: dict[tuple[str, str], str] = {}  # (subnet, IP) -> MAC
        self.names: dict[UUID, str] = {}
        self.problems: list[Finding] = []

    def add_host(self, host: str, current: Policy, enclave: UUID) -> None:
        domains = {d.id: d.name for d in current.domains}
        for sw in current.switches:
            if sw.tag != enclave or not sw.dhcp_disabled or sw.driver_domain is not None:
                continue
            subnet = _subnet(sw)
            rep = self.reps.setdefault(subnet, sw)
            for vif in current.vifs:
                if vif.switch == sw.id:
                    self.names[vif.domain] = domains.get(vif.domain, str(vif.domain))
                    self._add_vif(host, subnet, Vif(vif.domain, rep.id, vif.mac, vif.ip))

    def _add_vif(self, host: str, subnet: str, vif: Vif) -> None:
        seen = self.vifs.get(vif.mac)
        if seen is not None and (seen[0].ip, seen[0].domain) != (vif.ip, vif.domain):
            text = f"MAC {vif.mac} is {seen[0].ip} on {seen[1]!r} but {vif.ip} on {host!r}"
            self.problems.append(_refuse(self.server, "XE-DHCP-CONFLICT", text, (seen[1], host)))
            return
        if vif.ip is not None:
            owner = self.ips.setdefault((subnet, vif.ip), vif.mac)
            if owner != vif.mac:
                text = f"IP {vif.ip} is given to {owner} and to {vif.mac} (on {host!r})"
                self.problems.append(_refuse(self.server, "XE-DHCP-CONFLICT", text, (host,)))
                return
        self.vifs[vif.mac] = (vif, host)


def _server_file(
    policy: EnterprisePolicy, server: DhcpServer, host_policies: Mapping[UUID, Policy]
) -> str:
    enclave = policy.enclave(server.enclave)
    found = _Collected(server)
    for host in policy.hosts_of(enclave.id):
        current = host_policies.get(host.id)
        if current is not None:
            found.add_host(host.name, current, enclave.id)
    if found.problems:
        raise PolicyRefused(found.problems)
    head = f"# DHCP server {server.name} of {enclave.name} (XE policy version {policy.version})"
    if not found.reps:
        return (
            f"{head}\ndhcp-ignore=tag:!known\n"
            f"# no host's switch of {enclave.name} uses this server yet\n"
        )
    combined = Policy(
        name=f"{server.name} dnsmasq",
        tags=(Tag(enclave.id, enclave.name, enclave.color),),
        switches=tuple(found.reps.values()),
        vifs=tuple(v for v, _ in found.vifs.values()),
        domains=tuple(
            DomainConfig(key, name, None, GuestType.PV) for key, name in sorted(found.names.items())
        ),
    )
    try:
        text = remote_dnsmasq(combined, server.interface)
    except GeneratorError as exc:
        raise PolicyRefused([_refuse(server, "XE-DHCP-INVALID", exc.message)]) from exc
    return f"{head}\n{text}"


def remote_dnsmasq_files(
    policy: EnterprisePolicy, host_policies: Mapping[UUID, Policy]
) -> dict[str, str]:
    """Renders the dnsmasq file of every DHCP server of the policy (§4.3.2).

    Each server serves its enclave on every host that carries it: the switches with
    local DHCP disabled (one ``dhcp-range`` per subnet; hosts of one enclave share its
    subnet, each with its own switch address) and one ``dhcp-host`` per VIF, with the
    VM's name. A host without a policy yet contributes nothing.

    Args:
        policy: The enterprise policy.
        host_policies: Host id -> the policy the host enforces (or its new slice).

    Returns:
        Server name -> file text, in the policy's order of servers.

    Raises:
        PolicyRefused: A MAC with two IPs or an IP with two MACs across hosts
            (``XE-DHCP-CONFLICT``), or a switch/VIF the generator refuses
            (``XE-DHCP-INVALID``); every server's problems at once.
        NotFound: A server names an enclave the policy does not have.
    """
    files: dict[str, str] = {}
    problems: list[Finding] = []
    for server in policy.dhcp_servers:
        try:
            files[server.name] = _server_file(policy, server, host_policies)
        except PolicyRefused as refused:
            problems += [f for f in refused.findings if isinstance(f, Finding)]
    if problems:
        raise PolicyRefused(problems)
    return files
