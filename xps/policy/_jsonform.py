"""Lossless JSON-safe dict form of a policy, and MAC addresses in Xen's OUI."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ._errors import PolicyFormatError
from ._fields import FieldError
from ._model import Policy
from ._specs import POLICY

__all__ = ["XEN_OUI", "generate_mac", "policy_from_dict", "policy_to_dict"]

XEN_OUI = "00:16:3e"
"""Xen's organisationally unique identifier; generated MACs start with it."""


def generate_mac(rng: random.Random | None = None) -> str:
    """Returns a random unicast MAC address in Xen's OUI (``00:16:3e:xx:xx:xx``).

    Args:
        rng: Source of randomness (seed it for reproducible MACs); default: a new
            ``random.Random()``.
    """
    rng = rng or random.Random()
    # The top bit of the fourth octet stays clear, as in libxl's generator.
    tail = (rng.randrange(0x80), rng.randrange(0x100), rng.randrange(0x100))
    return XEN_OUI + "".join(f":{octet:02x}" for octet in tail)


# --------------------------------------------------------------------------- policy


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """Returns a JSON-safe dict of a policy (UUIDs and enums as strings, sets sorted).

    ``policy_from_dict(policy_to_dict(p)) == p`` holds for every policy.
    """
    return POLICY.dump(policy)


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Rebuilds a policy from :func:`policy_to_dict` output (e.g. decoded JSON).

    Fields with a default may be absent; unknown fields are refused.

    Raises:
        PolicyFormatError: Wrong type, bad UUID or enum value, missing or unknown
            field; the message names the path (``domains[3].seclabel``).
    """
    try:
        return POLICY.load(data)
    except FieldError as bad:
        path = "".join(reversed(bad.path)).lstrip(".") or "policy"
        raise PolicyFormatError(f"{path}: {bad.message}") from None
