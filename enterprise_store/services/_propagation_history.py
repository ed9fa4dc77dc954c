"""Reading the propagation history (issue #14): each host's transitions, scoped like the
propagation state — an auditor sees the hosts of their enclaves only."""

from __future__ import annotations

from dataclasses import dataclass

from enterprise_store.services._access import Principal, Role, require_role
from enterprise_store.services._policy import PolicyService
from enterprise_store.store import Store
from enterprise_store.store._compute_repo import ComputeRepo, TransitionRow

__all__ = ["HistoryPage", "propagation_history"]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Transitions newest first, each with its host's name, and the id to page on from."""

    items: list[tuple[TransitionRow, str]]
    next_before: int | None


async def propagation_history(
    store: Store,
    policy: PolicyService,
    caller: Principal,
    *,
    host: str | None = None,
    since_us: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> HistoryPage:
    """The transitions of the caller's hosts (or of ``host``, a UUID or name), newest
    first. Auditors; a scoped caller sees the hosts of their enclaves.

    Raises:
        RoleRequired: Below auditor.
        NotFound: No such host in the caller's view.
    """
    require_role(caller, Role.AUDITOR, "read the propagation history")
    if host is not None:
        found = await policy.get_host(caller, host)
        names = {str(found.id): found.name}
    else:
        view = await policy.policy(caller)
        names = {str(h.id): h.name for h in view.hosts}
    async with store.read() as conn:
        rows = await ComputeRepo().propagation_history(
            conn, sorted(names), since_us=since_us, before_id=before_id, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return HistoryPage(
        [(r, names.get(r.host_id, r.host_id)) for r in rows], rows[-1].id if more else None
    )
