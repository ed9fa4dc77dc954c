"""Protocol messages: requests, responses, errors and pushed events, to and from JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from xps.protocol._errors import BAD_REQUEST, ProtocolError
from xps.protocol._framing import HEADER, encode_frame
from xps.protocol._limits import MAX_ITEMS, check_shape, has_surrogate, may_hold_surrogate

RequestId = int | str
_MAX_ID_LEN = 128
_decode = json.JSONDecoder().decode
_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


class Request(NamedTuple):
    """``{"id", "method", "params"}`` from a client (a tuple: made once per request)."""

    id: RequestId
    method: str
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Response:
    """``{"id", "result"}`` from the server."""

    id: RequestId | None
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """``{"id", "error": {"code", "message"}}`` from the server."""

    id: RequestId | None
    code: str
    message: str
    details: Any = None


@dataclass(frozen=True, slots=True)
class Event:
    """``{"event", "data"}`` pushed by the server after ``Subscribe``."""

    event: str
    data: dict[str, Any]


ServerMessage = Response | ErrorResponse | Event


def _loads(payload: bytes) -> Any:
    try:
        obj = _decode(payload.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(BAD_REQUEST, "frame is not valid UTF-8 JSON") from exc
    return obj


def _check_id(value: Any) -> RequestId:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProtocolError(BAD_REQUEST, "request id must be an integer or a string")
    if isinstance(value, str) and len(value) > _MAX_ID_LEN:
        raise ProtocolError(BAD_REQUEST, "request id is too long")
    return value


def parse_request(payload: bytes, *, max_items: int = MAX_ITEMS) -> Request:
    """Parses one request frame payload.

    Its size is bounded before it is decoded (:func:`check_shape`); a lone surrogate
    anywhere in it (``"\\ud800"``, which no UTF-8 answer or log line could carry) makes
    it a bad request.

    Raises:
        ProtocolError: Not JSON, not an object, more than ``max_items`` values, too
            deep, a lone surrogate, or a missing/ill-typed member (``request_id`` is
            set when the id itself was readable).
    """
    check_shape(payload, max_items)
    obj = _loads(payload)
    if not isinstance(obj, dict):
        raise ProtocolError(BAD_REQUEST, "request must be a JSON object")
    surrogates = may_hold_surrogate(payload)
    raw_id = obj.get("id")
    if surrogates and has_surrogate(raw_id):
        raise ProtocolError(BAD_REQUEST, "request id is not valid Unicode (lone surrogate)")
    rid = _check_id(raw_id)
    method = obj.get("method")
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(method, str) or not method or len(method) > 64:
        raise ProtocolError(BAD_REQUEST, "request method must be a short string", request_id=rid)
    if not isinstance(params, dict):
        raise ProtocolError(BAD_REQUEST, "request params must be an object", request_id=rid)
    if surrogates and has_surrogate(obj):
        raise ProtocolError(
            BAD_REQUEST, "request is not valid Unicode (lone surrogate)", request_id=rid
        )
    # "id" and "method" are present by now: anything beyond them and "params" is unknown.
    if len(obj) > 3 or (len(obj) == 3 and "params" not in obj):
        extra = sorted(set(obj) - {"id", "method", "params"})
        raise ProtocolError(BAD_REQUEST, f"unknown request members {extra}", request_id=rid)
    return Request(rid, method, params)


def parse_server_message(payload: bytes) -> ServerMessage:
    """Parses one frame from the server (client side).

    Raises:
        ProtocolError: The frame is not a valid response, error or event.
    """
    obj = _loads(payload)
    if not isinstance(obj, dict):
        raise ProtocolError(BAD_REQUEST, "server message must be a JSON object")
    if "event" in obj:
        event, data = obj.get("event"), obj.get("data")
        if not isinstance(event, str) or not isinstance(data, dict):
            raise ProtocolError(BAD_REQUEST, "malformed event")
        return Event(event, data)
    rid = obj.get("id")
    if rid is not None:
        rid = _check_id(rid)
    if "error" in obj:
        err = obj["error"]
        if not isinstance(err, dict):
            raise ProtocolError(BAD_REQUEST, "malformed error")
        return ErrorResponse(
            rid, str(err.get("code", "")), str(err.get("message", "")), err.get("details")
        )
    result = obj.get("result")
    if not isinstance(result, dict):
        raise ProtocolError(BAD_REQUEST, "response result must be an object")
    return Response(rid, result)


def encode_request(rid: RequestId, method: str, params: dict[str, Any] | None = None) -> bytes:
    """A complete frame holding a request."""
    return encode_frame(
        _dumps({"id": rid, "method": method, "params": params or {}}).encode("utf-8")
    )


def encode_response(rid: RequestId | None, result: dict[str, Any]) -> bytes:
    """A complete frame holding a result.

    Raises:
        ValueError/TypeError: ``result`` is not JSON-serialisable.
    """
    # The envelope is fixed: only the id and the result need the JSON encoder.
    rid_text = str(rid) if type(rid) is int else _dumps(rid)
    body = f'{{"id":{rid_text},"result":{_dumps(result)}}}'.encode()
    return HEADER.pack(len(body)) + body


def encode_error(rid: RequestId | None, code: str, message: str, details: Any = None) -> bytes:
    """A complete frame holding an error (``details``: optional JSON-safe extra data)."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return encode_frame(_dumps({"id": rid, "error": err}).encode("utf-8"))


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    """A complete frame holding a pushed event (encode once, send to every subscriber)."""
    return encode_frame(_dumps({"event": event, "data": data}).encode("utf-8"))
