"""The policy service: parse, verify, stage, activate (MSM + disk + network), roll back, export."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, cast
from uuid import UUID

from xps import msm
from xps.policy import (
    Policy,
    PolicyError,
    PolicySignatureError,
    diff,
    parse_policy,
    policy_from_dict,
    policy_to_dict,
    sample_policy,
    serialize_policy,
    to_msm_objects,
    validate,
    verify_policy,
)
from xps.protocol import ExportedPolicy, PolicyVersion, Staged, StagedDiff, StoredPolicy

from ._convert import commit_details, from_msm_error, jsonable
from ._errors import HostError, HostStateError, InvalidArgument, NotSupported, PolicyInvalid
from ._export import export_document
from ._network import NetworkPlan, apply_network, plan_network
from ._policystore import ActivationPending
from ._policystore import StoredPolicy as StoredDocument
from ._svc_state import HostState, name_of
from ._violations import Labels

__all__ = ["PolicyService"]

log = logging.getLogger("xps.host")

_DSIG_NS = b"http://www.w3.org/2000/09/xmldsig#"


def _retrieve(task: asyncio.Future[Any]) -> None:
    # Mark the outcome as seen even when nobody awaits it any more (cancelled caller).
    if not task.cancelled() and task.exception() is not None:
        log.warning("policy activation failed after its request was cancelled")


def _findings(findings: list[Any]) -> list[dict[str, Any]]:
    return [jsonable(f) for f in findings]


def _errors_of(findings: list[Any]) -> list[Any]:
    return [f for f in findings if str(getattr(f, "severity", "error")) == "error"]


class QuarantineKeeper(Protocol):
    """The incidents (``IncidentService``): quarantines an activation must keep."""

    def keep_quarantines(self, policy: Policy, what: str) -> tuple[Policy, list[Any]]:
        """``policy`` with the quarantines in force kept, and what was kept."""
        ...

    async def kept_quarantines(self, kept: list[Any], what: str, generation: int) -> None:
        """Records kept quarantines once the activation is in force."""
        ...


class PolicyService:
    """The host's policy: one MSM transaction, one atomic store swap, then the network.

    Args:
        state: The host's shared state; this service alone sets ``state.policy``.
        set_labels: Receives the SecLabel names of each policy put in force (the
            violation monitor names records with them).
    """

    def __init__(
        self, state: HostState, set_labels: Callable[[Mapping[UUID, Labels]], None]
    ) -> None:
        self._state = state
        self._set_labels = set_labels
        #: Set by the host: activating a staged or previous policy keeps the incidents'
        #: quarantines in force (``IncidentService.keep_quarantines``).
        self.quarantines: QuarantineKeeper | None = None

    # ------------------------------------------------------------------ start-up

    async def recover(self) -> None:
        """Puts the stored active policy back in force, or the configured initial one."""
        state = self._state
        store = state.store
        if store.recovered:
            state.log_msm(f"policy store recovered an interrupted activation ({store.recovered})")
        if store.has("active"):
            stored = await asyncio.to_thread(store.get, "active")
            policy = self._parse_stored(stored)
            self._commit_msm(policy)
            self._installed(policy, stored.generation or 0)
            # Bridges survive in the OVS database, iptables and dnsmasq state do not.
            try:
                problems = await self._apply_network(self._network_plan(policy))
            except HostError as exc:
                problems = [exc.message]
            for problem in problems:
                log.error("Network configuration at start-up: %s", problem)
            return
        initial = state.config.initial
        if initial == "none":
            return
        if initial == "sample":
            policy = sample_policy()
        else:
            try:
                raw = await asyncio.to_thread(Path(initial).read_bytes)
            except OSError as exc:
                raise HostStateError(
                    f"cannot read the initial policy {initial}: {exc.strerror}"
                ) from exc
            policy = self._parse_xml(raw)
        await self._activate(policy, serialize_policy(policy), "initial")

    # ------------------------------------------------------------------ parsing

    def _parse_xml(self, data: bytes) -> Policy:
        try:
            if _DSIG_NS in data:
                return self._verified(data)
            return parse_policy(data)
        except PolicyError as exc:
            details = {
                "code": exc.code,
                "line": getattr(exc, "line", 0),
                "column": getattr(exc, "column", 0),
            }
            raise PolicyInvalid(f"policy refused: {exc.message}", details=[details]) from exc

    def _verified(self, data: bytes) -> Policy:
        # A signed policy (the enterprise store signs every slice it sends) is taken only
        # when its signature verifies against the host's policy trust; the policy is then
        # built from the signed content alone, and stored without the signature. Text
        # that merely names the XML-DSig namespace, unsigned, parses as before.
        trust = self._state.config.policy_trust
        if trust is not None:
            try:
                return verify_policy(data, trust).policy
            except PolicySignatureError as exc:
                if exc.code != "policy.signature.missing":
                    raise
            return parse_policy(data)
        try:
            return parse_policy(data)
        except PolicyError:
            raise PolicySignatureError(
                "a signed policy needs a policy trust on this host to verify it against",
                code="policy.signature.no-trust",
            ) from None

    @staticmethod
    def _parse_stored(stored: StoredDocument) -> Policy:
        try:
            return parse_policy(stored.data)
        except PolicyError as exc:
            raise HostStateError(f"stored {stored.which} policy is unreadable: {exc}") from exc

    # ------------------------------------------------------------------ enforcement

    def _commit_msm(self, policy: Policy) -> None:
        ctx = self._state.msm
        if ctx is None:
            return
        try:
            # Domains are known to the MSM by UUID only: their names go with the
            # objects, so that a refusal names them.
            names = {d.id: d.name for d in policy.domains}
            ctx.apply(to_msm_objects(policy), empty=True, names=names)
        except msm.CommitRefused as exc:
            raise PolicyInvalid(
                f"the MSM refused the policy: {exc}",
                details=[commit_details(exc, policy, self._state.names)],
            ) from exc
        except msm.MsmError as exc:
            raise from_msm_error(exc, "the MSM refused the policy") from exc

    def _installed(self, policy: Policy, generation: int) -> None:
        self._state.policy = policy
        self._set_labels(
            {s.id: Labels(s.name, name_of(policy, s.profile)) for s in policy.seclabels}
        )
        self._state.log_msm(f"policy {policy.name!r} generation {generation} in force")

    def _network_plan(self, policy: Policy) -> NetworkPlan:
        cfg = self._state.config
        return plan_network(
            policy, self._state.nics, simulated=cfg.backend == "sim", sysfs=cfg.root_prefix / "sys"
        )

    async def _apply_network(self, plan: NetworkPlan) -> list[str]:
        cfg = self._state.config
        if cfg.backend == "sim":
            dnsmasq = cfg.state_dir / "net" / "xenon-policy.dnsmasq"
        else:
            dnsmasq = cfg.root_prefix / "etc/dnsmasq.d/xenon-policy"
        return await apply_network(plan, self._state.runner, cfg.state_dir / "net", dnsmasq)

    async def _activate(
        self,
        policy: Policy,
        data: bytes,
        source: Literal["staged", "previous", "initial", "incident"],
    ) -> PolicyVersion:
        state = self._state
        findings = validate(policy)
        errors = _errors_of(findings)
        if errors:
            raise PolicyInvalid(
                f"policy {policy.name!r} has {len(errors)} validation error(s)",
                details=_findings(findings),
            )
        if state.msm is None:
            raise NotSupported(f"cannot enforce a policy: the MSM module is {state.msm_status}")
        plan = self._network_plan(policy)
        old = state.policy
        self._commit_msm(policy)
        try:
            generation = await asyncio.to_thread(state.store.activate, data, source)
        except ActivationPending:
            # Decided on disk: the new policy stays in force in the MSM too.
            self._installed(policy, state.store.generation + 1)
            raise
        except Exception:
            # Nothing decided on disk: disk and MSM must agree, so the old policy returns.
            with contextlib.suppress(Exception):
                state.require_msm().apply(to_msm_objects(old) if old else [], empty=True)
            raise
        self._installed(policy, generation)
        network_errors = await self._apply_network(plan)
        stored = await asyncio.to_thread(state.store.get, "active")
        result: PolicyVersion = {"generation": generation, "sha256": stored.sha256}
        if network_errors:
            result["network_errors"] = network_errors
        state.events.publish({"event": "policy", "data": dict(result)})
        return result

    # ------------------------------------------------------------------ methods

    async def get_policy(self, which: str = "active") -> StoredPolicy:
        """One stored policy as XML and as a dict (staged: NotFound when nothing is staged)."""
        if which not in ("active", "staged", "previous"):
            raise InvalidArgument("which must be active, staged or previous")
        stored = await asyncio.to_thread(self._state.store.get, which)  # type: ignore[arg-type]
        policy = self._parse_stored(stored)
        return {
            "which": which,
            "generation": stored.generation,
            "sha256": stored.sha256,
            "xml": stored.data.decode("utf-8"),
            "policy": policy_to_dict(policy),
        }

    async def staged_diff(self) -> StagedDiff:
        """Differences from the active policy to the staged one (empty when none staged)."""
        active = self._state.policy or Policy(name="(none)")
        store = self._state.store
        if not store.has("staged"):
            return {"diff": diff(active, active).to_dict(), "staged": False}
        staged = self._parse_stored(await asyncio.to_thread(store.get, "staged"))
        return {"diff": diff(active, staged).to_dict(), "staged": True}

    async def export_policy(self, signed: bool = True, template: bool = False) -> ExportedPolicy:
        """The active policy (or its hardware-free template) as XML, signed on request."""
        policy = self._state.require_policy()
        cfg = self._state.config
        if signed and (cfg.sign_key is None or cfg.sign_cert is None):
            raise NotSupported("signed export needs sign_key and sign_cert in the host config")
        xml = await asyncio.to_thread(
            export_document,
            policy,
            signed=signed,
            template=template,
            key_file=cfg.sign_key,
            cert_file=cfg.sign_cert,
        )
        return {"xml": xml.decode("utf-8"), "signed": signed}

    async def stage_policy(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> Staged:
        """Validates and stages a policy given as XML text or as its dict form."""
        parsed, findings = self.candidate(xml, policy)
        data = serialize_policy(parsed)
        async with self._state.lock:
            sha = await asyncio.to_thread(self._state.store.stage, data)
        return {"staged": True, "findings": _findings(findings), "sha256": sha}

    def candidate(
        self, xml: str | None = None, policy: dict[str, Any] | None = None
    ) -> tuple[Policy, list[Any]]:
        """Parses and validates a policy given as XML text or as its dict form.

        Returns:
            The policy and its validation findings (warnings only).

        Raises:
            PolicyInvalid: It does not parse, or validation finds errors.
        """
        if (xml is None) == (policy is None):
            raise InvalidArgument("give exactly one of xml and policy")
        if xml is not None:
            if not isinstance(xml, str):
                raise InvalidArgument("xml must be a string")
            parsed = self._parse_xml(xml.encode("utf-8"))
        else:
            if not isinstance(policy, dict):
                raise InvalidArgument("policy must be an object")
            try:
                parsed = policy_from_dict(policy)
            except PolicyError as exc:
                raise PolicyInvalid(
                    f"policy refused: {exc.message}", details=[{"code": exc.code}]
                ) from exc
        findings = validate(parsed)
        errors = _errors_of(findings)
        if errors:
            raise PolicyInvalid(
                f"policy {parsed.name!r} has {len(errors)} validation error(s)",
                details=_findings(findings),
            )
        return parsed, findings

    async def activate_policy(self) -> PolicyVersion:
        """Makes the staged policy active: one MSM transaction, atomic on disk, network applied."""
        return await self._shielded(self._activate_from("staged"))

    async def rollback_policy(self) -> PolicyVersion:
        """Makes the previous policy active again (the current one becomes previous)."""
        return await self._shielded(self._activate_from("previous"))

    async def activate_changed(self, change: Callable[[Policy], Policy]) -> PolicyVersion:
        """Makes ``change(active policy)`` active at once (an incident's quarantine): under
        the policy lock, so no other activation comes between the read and the commit.
        The staged policy, if any, is left as it is."""

        async def run() -> PolicyVersion:
            async with self._state.lock:
                policy = change(self._state.require_policy())
                return await self._activate(policy, serialize_policy(policy), "incident")

        return await self._shielded(run())

    async def _activate_from(self, which: Literal["staged", "previous"]) -> PolicyVersion:
        store = self._state.store
        async with self._state.lock:
            if not store.has(which):
                what = "staged policy to activate" if which == "staged" else "previous policy"
                raise HostStateError(f"there is no {what}")
            stored = await asyncio.to_thread(store.get, which)
            policy = self._parse_stored(stored)
            data = stored.data
            kept: list[Any] = []
            keeper = self.quarantines
            if keeper is not None:
                # A policy staged before a quarantine (or the one before it) must not
                # silently undo it: the domain stays on its quarantine SecLabel.
                policy, kept = keeper.keep_quarantines(policy, which)
                if kept:
                    data = serialize_policy(policy)
            result = await self._activate(policy, data, which)
            if kept and keeper is not None:
                result["quarantines_kept"] = [str(k) for k in kept]
                await keeper.kept_quarantines(kept, which, result["generation"])
            return result

    @staticmethod
    async def _shielded(coro: Coroutine[Any, Any, PolicyVersion]) -> PolicyVersion:
        # A cancelled request (client gone) must not stop an activation half-way
        # between the MSM and the disk: the inner task always runs to its end.
        task = asyncio.ensure_future(coro)
        task.add_done_callback(_retrieve)
        return cast(PolicyVersion, await asyncio.shield(task))
