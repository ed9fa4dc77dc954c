"""The Enterprise view at scale: a fleet of 1,000 hosts and 10,000 VMs in XE, and what the
console pays to show and filter it.

``scale_policy(n_hosts, n_vms)`` is the fleet (also used by the console's scale tests):
hosts ``host-0000`` … on 127.0.0.1 at ports nobody is expected to listen on (XE cannot reach
them: run states read ``unknown``), one enclave ``Enclave Fleet`` on every host holding
every VM (the worst case of the VM table: the first enclave shown is the largest), VM ``i``
pinned to host ``i mod n_hosts``, and a small ``Enclave Lab`` on the first host.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enterprise_store.model import EnterprisePolicy

_NS = uuid.UUID("0d1e5b7c-7a0e-4c51-9a63-5ca1e0000001")
FIRST_PORT = 20000
"""Hosts listen (nobody does) on 127.0.0.1:FIRST_PORT+i."""


def scale_policy(n_hosts: int = 1000, n_vms: int = 10_000) -> EnterprisePolicy:
    """The deterministic fleet described in the module docstring."""
    from enterprise_store.model import Assignment, Enclave, EnterprisePolicy, Host, SecLabel, Vm
    from xps.policy import GuestType, predefined_profile, predefined_profiles

    hosts = tuple(
        Host(uuid.uuid5(_NS, f"host-{i}"), f"host-{i:04d}", "127.0.0.1", FIRST_PORT + i, i + 1)
        for i in range(n_hosts)
    )
    fleet = Enclave(uuid.uuid5(_NS, "fleet"), "Enclave Fleet", (40, 120, 200))
    lab = Enclave(uuid.uuid5(_NS, "lab"), "Enclave Lab", (200, 120, 40))
    profile = predefined_profile("PV-Combined").id
    labels = (
        SecLabel(uuid.uuid5(_NS, "fleet-label"), "fleet-label", fleet.id, profile),
        SecLabel(uuid.uuid5(_NS, "lab-label"), "lab-label", lab.id, profile),
    )
    vms = [
        Vm(
            uuid.uuid5(_NS, f"vm-{i}"),
            f"vm-{i:05d}",
            fleet.id,
            labels[0].id,
            GuestType.PV,
            kernel="/boot/vmlinuz",
            memory_mb=512,
            maxmem_mb=512,
            host=hosts[i % n_hosts].id,
        )
        for i in range(n_vms)
    ]
    vms.append(
        Vm(
            uuid.uuid5(_NS, "lab-vm"),
            "lab-vm",
            lab.id,
            labels[1].id,
            GuestType.PV,
            kernel="/boot/vmlinuz",
            memory_mb=512,
            maxmem_mb=512,
            host=hosts[0].id,
        )
    )
    assignments = [Assignment(fleet.id, h.id) for h in hosts]
    assignments.append(Assignment(lab.id, hosts[0].id))
    return EnterprisePolicy(
        version=1,
        hosts=hosts,
        enclaves=(fleet, lab),
        assignments=tuple(assignments),
        profiles=predefined_profiles(),
        seclabels=labels,
        vms=tuple(vms),
    )
