"""What the Policy service takes and returns besides the model's own objects."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from enterprise_store.checker import Finding, Severity

__all__ = ["CheckReport", "PolicyFormat", "PolicyQuery", "PolicyVersion", "Written"]

T = TypeVar("T")


class PolicyFormat(enum.StrEnum):
    """Views of the policy (§4.2.5): the console's tree, the XML document, the text listing,
    or the canonical JSON of the model."""

    TREE = "tree"
    XML = "xml"
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Written(Generic[T]):
    """The result of a policy write.

    Attributes:
        value: The object as stored (a created VM shows the host it was placed on).
        version: The policy version the write made (the current one when nothing changed).
        warnings: Findings of severity warning the checker let pass.
    """

    value: T
    version: int
    warnings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One committed change of the policy.

    Attributes:
        sha256: ``policy_sha256`` of the whole policy as that change left it.
        enclaves: Enclave UUIDs the change concerns (empty: enterprise-wide).
    """

    version: int
    sha256: str
    at: dt.datetime
    author: str
    action: str
    object: str
    enclaves: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The consistency checker over the stored policy (``xenon xe check``).

    Attributes:
        findings: Errors and warnings; a scoped caller sees those about their objects.
    """

    version: int
    sha256: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """No finding is an error."""
        return not any(f.severity is Severity.ERROR for f in self.findings)


@dataclass(frozen=True, slots=True)
class PolicyQuery:
    """Filters and paging of a policy collection (canonical order: hosts in panel order,
    everything else by name).

    Attributes:
        enclave: Only objects of this enclave (UUID or name); for hosts, the hosts that
            carry it; for conflict sets, the sets that name it.
        host: VMs placed on this host; enclaves assigned to it (UUID or name).
        seclabel: VMs with this SecLabel (UUID or name).
        text: Text in the name.
        after: Paging key from ``Page.next``.
        limit: Page size, 1..1000.
    """

    enclave: str | None = None
    host: str | None = None
    seclabel: str | None = None
    text: str | None = None
    after: str | None = None
    limit: int = 100
