"""What a caller scoped to enclaves sees of the policy: their enclaves and their part of hosts.

The scoped view is a policy of its own: the enclaves in scope, their assignments,
SecLabels, VMs and DHCP servers; the conflict sets all of whose enclaves are in scope;
the hosts that carry one of those enclaves, each with only the switches of those enclaves.
Views, lists and references of a scoped caller all go through it, so what scope hides
cannot be named, listed or rendered. The default placement of a VM is the same in the
view as in the whole policy: every host that carries the VM's enclave is in the view.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from uuid import UUID

from enterprise_store.model import EnterprisePolicy
from enterprise_store.model._gc import collector_paused

__all__ = ["ScopedViews", "scoped_view"]


def scoped_view(policy: EnterprisePolicy, scopes: frozenset[str]) -> EnterprisePolicy:
    """The part of ``policy`` a caller scoped to ``scopes`` (enclave UUIDs) sees."""
    wanted = {UUID(s).int for s in scopes}
    with collector_paused():
        enclaves = tuple(e for e in policy.enclaves if e.id.int in wanted)
        assignments = tuple(a for a in policy.assignments if a.enclave.int in wanted)
        carried = {a.host.int for a in assignments}
        hosts = []
        for h in policy.hosts:
            if h.id.int not in carried:
                continue
            mine = tuple(s for s in h.switches if s.enclave is not None and s.enclave.int in wanted)
            hosts.append(h if mine == h.switches else dataclasses.replace(h, switches=mine))
        return EnterprisePolicy(
            version=policy.version,
            hosts=tuple(hosts),
            enclaves=enclaves,
            assignments=assignments,
            profiles=policy.profiles,
            seclabels=tuple(s for s in policy.seclabels if s.enclave.int in wanted),
            vms=tuple(v for v in policy.vms if v.enclave.int in wanted),
            conflicts=tuple(
                c
                for c in policy.conflicts
                if c.enclaves and all(e.int in wanted for e in c.enclaves)
            ),
            dhcp_servers=tuple(d for d in policy.dhcp_servers if d.enclave.int in wanted),
        )


class ScopedViews:
    """A small cache of scoped views, by (policy identity, scope): a console of an
    Enclave A operator asks for the same view on every refresh.

    Args:
        size: Views kept (least recently used dropped first).
    """

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._views: OrderedDict[tuple[str, frozenset[str]], EnterprisePolicy] = OrderedDict()

    def get(
        self, policy: EnterprisePolicy, sha256: str, scopes: frozenset[str] | None
    ) -> EnterprisePolicy:
        """The view of ``policy`` (whose head hash is ``sha256``) for ``scopes``."""
        if scopes is None:
            return policy
        key = (f"{policy.version}:{sha256}", scopes)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = scoped_view(policy, scopes)
            while len(self._views) > self._size:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        return view
