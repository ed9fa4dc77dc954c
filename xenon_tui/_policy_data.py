"""Turns GetPolicy results into ``xps.policy.Policy`` objects (cached by sha256)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from xenon_tui._errors import ConsoleError

if TYPE_CHECKING:
    from xps.policy import Policy


class PolicyDataError(ConsoleError):
    """A daemon sent a policy the console cannot read."""

    code = "policy_unreadable"
    title = "Policy"


@lru_cache(maxsize=16)
def _from_xml(xml: str) -> Policy:
    from xps.policy import parse_policy

    result: Policy = parse_policy(xml)
    return result


def policy_of(result: dict[str, Any] | None) -> Policy | None:
    """The Policy in a ``GetPolicy`` result (None when there is none, e.g. nothing staged)."""
    if not result:
        return None
    cached = result.get("_policy_obj")
    if cached is not None:
        return cast("Policy", cached)
    policy: Policy | None = None
    try:
        # The XML is the canonical form (hardened parser, XSD); the dict form is a fallback.
        if isinstance(result.get("xml"), str) and result["xml"]:
            policy = _from_xml(result["xml"])
        elif isinstance(result.get("policy"), dict):
            from xps.policy import policy_from_dict

            policy = policy_from_dict(result["policy"])
    except Exception as exc:  # any model error: show it, keep the console alive
        raise PolicyDataError(f"cannot read the policy: {exc}") from exc
    if policy is not None:
        result["_policy_obj"] = policy
    return policy


def policy_xml(policy: Policy) -> str:
    """The ``xml`` parameter of StagePolicy for a Policy."""
    from xps.policy import serialize_policy

    return serialize_policy(policy).decode()


def hex_color(rgb: tuple[int, int, int]) -> str:
    """``#rrggbb`` of a tag colour."""
    r, g, b = (max(0, min(255, int(c))) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"
