"""Hypercall profiles to and from files: policy/template XML or one profile as JSON."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xenon_tui._errors import ImportFileError
from xps.files import read_bounded

if TYPE_CHECKING:
    from xps.policy import HypercallProfile, Policy

MAX_PROFILE_FILE = 16 * 1024 * 1024
"""Largest file read (the policy XML limit; a single JSON profile is far smaller)."""

_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"


class Fit(Enum):
    """How an imported profile fits the policy it is imported into."""

    NEW = "new"
    SAME = "already present"
    NAME_CLASH = "name in use"
    UUID_CLASH = "UUID in use"
    BOTH_CLASH = "name and UUID belong to two profiles"


def read_file(path: str) -> bytes:
    """The file's bytes, refused above :data:`MAX_PROFILE_FILE` (read in a worker thread)."""
    return read_bounded(
        Path(path).expanduser(), MAX_PROFILE_FILE, ImportFileError, name=path, size="16 MiB"
    )


def _xml_refusal(problem: Any, detail: str, line: int, column: int) -> ImportFileError:
    why = detail or "DTDs and entity references are refused"
    return ImportFileError(f"not a usable XML document ({problem}, {line}:{column}): {why}")


def _from_xml(data: bytes) -> tuple[HypercallProfile, ...]:
    from xps.policy import (
        MAX_XML_BYTES,
        MAX_XML_DEPTH,
        TEMPLATE_TAG,
        PolicyError,
        parse_template,
        parse_untrusted,
        policy_from_element,
    )

    root = parse_untrusted(
        data, max_bytes=MAX_XML_BYTES, max_depth=MAX_XML_DEPTH, error=_xml_refusal
    )
    try:
        if root.tag == TEMPLATE_TAG:
            return parse_template(data).policy.profiles
        # A signed export carries its enveloped signature as the root's last child. The
        # signature is not checked here: imported profiles are validated and only staged.
        for child in list(root):
            if child.tag == _DSIG:
                root.remove(child)
        return policy_from_element(root).profiles
    except PolicyError as exc:
        raise ImportFileError(f"{exc} [{exc.code}]") from exc


def _from_json(data: bytes, policy: Policy) -> tuple[HypercallProfile, ...]:
    from xps.policy import PolicyFormatError, policy_from_dict, policy_to_dict

    try:
        entry = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ImportFileError(f"not valid JSON: {exc}") from None
    if not isinstance(entry, dict):
        raise ImportFileError("the JSON file must hold one profile object")
    # The policy decoder does the strict field checks (types, UUID, unknown fields);
    # decoding a policy whose only profile is this entry reuses it unchanged.
    shell = policy_to_dict(policy)
    shell["profiles"] = [entry]
    try:
        return policy_from_dict(shell).profiles
    except PolicyFormatError as exc:
        where = str(exc).replace("profiles[0].", "", 1).replace("profiles[0]", "profile", 1)
        raise ImportFileError(f"not a profile: {where}") from None
    except (TypeError, ValueError) as exc:  # model constructors reject out-of-range values
        raise ImportFileError(f"not a profile: {exc}") from None


def read_profiles(data: bytes, policy: Policy) -> tuple[HypercallProfile, ...]:
    """Profiles of a policy/template XML document or of a single-profile JSON object.

    Args:
        data: The file content.
        policy: The policy being edited (the JSON decoder needs a whole policy around the
            profile; nothing of it is taken).

    Raises:
        ImportFileError: Malformed, hostile or not one of the two formats.
    """
    head = data.lstrip()[:1]
    if head == b"{":
        return _from_json(data, policy)
    if head == b"<" or data.startswith(b"\xef\xbb\xbf"):
        return _from_xml(data)
    raise ImportFileError("expected policy/template XML or a JSON profile object")


def profile_json(policy: Policy, profile_id: Any) -> bytes:
    """One profile of ``policy`` as JSON: its entry of ``policy_to_dict``.

    Raises:
        KeyError: No profile has that id.
    """
    from xps.policy import policy_to_dict

    entries = policy_to_dict(policy)["profiles"]
    entry = next((e for e in entries if e["id"] == str(profile_id)), None)
    if entry is None:
        raise KeyError(profile_id)
    return (json.dumps(entry, indent=2) + "\n").encode()


def fit(policy: Policy, profile: HypercallProfile) -> Fit:
    """How ``profile`` relates to the profiles already in ``policy``."""
    by_id = {p.id: p for p in policy.profiles}
    by_name = {p.name: p for p in policy.profiles}
    same_id, same_name = by_id.get(profile.id), by_name.get(profile.name)
    if same_id == profile:
        return Fit.SAME
    if same_id is not None and same_name is not None and same_id is not same_name:
        return Fit.BOTH_CLASH
    if same_id is not None:
        return Fit.UUID_CLASH
    if same_name is not None:
        return Fit.NAME_CLASH
    return Fit.NEW


def merged(policy: Policy, profiles: list[HypercallProfile], replace: set[str]) -> Policy:
    """``policy`` with ``profiles`` added; names in ``replace`` overwrite their clash.

    A name clash keeps the existing UUID (SecLabels refer to it); a UUID clash keeps the
    UUID and takes the imported content.

    Raises:
        ImportFileError: A clash that is not in ``replace``, or one that cannot be replaced.
    """
    for profile in profiles:
        how = fit(policy, profile)
        if how is Fit.SAME:
            continue
        if how is Fit.NEW:
            policy = policy.with_profile(profile)
            continue
        if how is Fit.BOTH_CLASH or profile.name not in replace:
            raise ImportFileError(f"profile {profile.name!r}: {how.value}; not imported")
        if how is Fit.NAME_CLASH:
            profile = dataclasses.replace(profile, id=policy.profile_named(profile.name).id)
        policy = policy.with_profile(profile)
    return policy
