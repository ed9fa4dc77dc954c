"""Canonical JSON of an enterprise policy: stable bytes whose SHA-256 names the version."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from xps.policy import FieldError, JsonCodec, JsonFlavor, json_spec, json_value

from .._errors import InvalidInput
from ._policy import EnterprisePolicy
from ._types import Host, Vm

__all__ = [
    "MAX_JSON_BYTES",
    "policy_from_dict",
    "policy_from_json",
    "policy_sha256",
    "policy_to_dict",
    "policy_to_json",
]

MAX_JSON_BYTES = 512 * 1024 * 1024
"""Largest JSON document accepted (100,000 VMs take about 60 MB)."""

_FORMAT = 1


# --------------------------------------------------------------------------- encode

# Fields added after format 1 was fixed, written only when they hold something: a
# document without them keeps its bytes, so its SHA-256 (the version's identity) does
# not move. Reading treats them as absent = default.
_LATER_VM_FIELDS = ("vifs", "disks")


# Likewise inside a VIF and a disk: their later fields, at their defaults, are left out.
_LATER_DEVICE_FIELDS = (("vifs", "model", None), ("disks", "cdrom", False))


def _vm_dict(body: dict[str, Any]) -> dict[str, Any]:
    for key in _LATER_VM_FIELDS:
        if not body.get(key, True):
            del body[key]
    for key, field, default in _LATER_DEVICE_FIELDS:
        for item in body.get(key, ()):
            if item.get(field, default) is default:
                del item[field]
    return body


def _host_dict(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("ro_port", 0) is None:
        del body["ro_port"]
    return body


def _encode(value: Any) -> Any:
    """The shared model encoder of xps.policy (what its field specs write), without a
    VM's or host's empty later fields; the digest service encodes single objects with
    it too."""
    body = json_value(value)
    if type(value) is Vm:
        _vm_dict(body)
    elif type(value) is Host:
        _host_dict(body)
    return body


def policy_to_dict(policy: EnterprisePolicy) -> dict[str, Any]:
    """Returns the JSON-safe dict of a policy (UUIDs and enums as strings, sets sorted).

    ``policy_from_dict(policy_to_dict(p)) == p`` for every policy.
    """
    body: dict[str, Any] = json_value(policy)
    for vm in body["vms"]:
        _vm_dict(vm)
    for host in body["hosts"]:
        _host_dict(host)
    return {"format": _FORMAT, **body}


def policy_to_json(policy: EnterprisePolicy) -> bytes:
    """Returns the canonical JSON of a policy: UTF-8, sorted keys, no spaces.

    Two equal policies give the same bytes, so :func:`policy_sha256` identifies a
    version by content.

    Raises:
        InvalidInput: A string cannot be written as UTF-8 (a lone surrogate).
    """
    try:
        text = json.dumps(
            policy_to_dict(policy),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"policy holds text that is not UTF-8: {exc.reason}") from exc


def policy_sha256(policy: EnterprisePolicy) -> str:
    """Returns the hex SHA-256 of the policy's canonical JSON: the version's identity."""
    return hashlib.sha256(policy_to_json(policy)).hexdigest()


# --------------------------------------------------------------------------- decode
#
# xps.policy's JSON spec machinery, derived from the model's type hints, with XE's own
# checks: strings must be UTF-8-encodable, values quoted in messages are cut to 40
# characters, lists arrive only as lists, and a constructor's refusal is reported at
# the object's path.


def _type_name(value: Any) -> str:
    return type(value).__name__


def _load_uuid(value: Any) -> UUID:
    if not isinstance(value, str):
        raise FieldError(f"expected a UUID string, got {_type_name(value)}")
    try:
        return UUID(value)
    except ValueError:
        raise FieldError(f"not a UUID: {value[:40]!r}") from None


def _load_str(value: Any) -> str:
    if type(value) is not str:
        raise FieldError(f"expected a string, got {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError("string is not valid UTF-8 (lone surrogate)") from None
    return value


def _load_int(value: Any) -> int:
    if type(value) is not int:
        raise FieldError(f"expected an integer, got {_type_name(value)}")
    return value


def _load_bool(value: Any) -> bool:
    if type(value) is not bool:
        raise FieldError(f"expected true or false, got {_type_name(value)}")
    return value


def _enum(tp: type[enum.Enum]) -> JsonCodec[Any]:
    allowed = ", ".join(str(m.value) for m in tp)

    def load(value: Any) -> enum.Enum:
        try:
            return tp(value)
        except ValueError:
            raise FieldError(f"{str(value)[:40]!r} is not one of {allowed}") from None

    return JsonCodec(json_value, load)


_XE = JsonFlavor(
    scalars={
        str: JsonCodec(json_value, _load_str),
        int: JsonCodec(json_value, _load_int),
        bool: JsonCodec(json_value, _load_bool),
        UUID: JsonCodec(json_value, _load_uuid),
    },
    enum=_enum,
    lists=(list,),
    wrap_errors=True,
    name_limit=40,
)


def policy_from_dict(data: Mapping[str, Any]) -> EnterprisePolicy:
    """Rebuilds a policy from :func:`policy_to_dict` output.

    Fields with a default may be absent (``profiles`` then means the pre-defined
    ten); unknown fields and other formats are refused.

    Raises:
        InvalidInput: Wrong type, bad UUID or enum value, missing or unknown field;
            the message names the path (``vms[3].seclabel``).
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"policy: expected an object, got {_type_name(data)}")
    if data.get("format") != _FORMAT:
        raise InvalidInput(f"policy: format must be {_FORMAT}")
    body = {k: v for k, v in data.items() if k != "format"}
    try:
        policy = json_spec(EnterprisePolicy, _XE).load(body)
    except FieldError as bad:
        path = "".join(reversed(bad.path)).lstrip(".") or "policy"
        raise InvalidInput(f"{path}: {bad.message}") from None
    return policy


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise FieldError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise FieldError(f"{name} is not a number JSON allows")


def policy_from_json(data: bytes | str) -> EnterprisePolicy:
    """Parses the JSON of a policy (as written by :func:`policy_to_json`, or any
    equivalent JSON).

    Refused: input over :data:`MAX_JSON_BYTES`, malformed JSON, duplicate keys,
    NaN/Infinity, anything :func:`policy_from_dict` refuses.

    Raises:
        InvalidInput: The message says what and where.
    """
    if isinstance(data, str):
        text = data
        if len(text) > MAX_JSON_BYTES:
            raise InvalidInput(f"policy JSON larger than {MAX_JSON_BYTES} bytes")
    else:
        if len(data) > MAX_JSON_BYTES:
            raise InvalidInput(f"policy JSON larger than {MAX_JSON_BYTES} bytes")
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("policy JSON is not UTF-8") from None
    try:
        decoded = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except FieldError as bad:
        raise InvalidInput(f"policy JSON: {bad.message}") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"policy JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise InvalidInput(f"policy JSON is not acceptable: {type(exc).__name__}") from None
    return policy_from_dict(decoded)
