"""The sans-IO protocol core: framing, message parsing and parameter validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xps.protocol import (
    METHODS,
    ErrorResponse,
    Event,
    FrameDecoder,
    ProtocolError,
    Response,
    encode_error,
    encode_event,
    encode_frame,
    encode_request,
    encode_response,
    parse_request,
    parse_server_message,
    validate_params,
)


@settings(max_examples=200, deadline=None)
@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=7000), max_size=30),
)
def test_frames_survive_any_split(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    decoder = FrameDecoder(max_frame=1000)
    got: list[bytes] = []
    prev = 0
    for point in [*points, len(stream)]:
        got.extend(decoder.feed(stream[prev:point]))
        prev = point
    assert got == payloads
    assert not decoder.in_frame


def test_oversized_header_is_fatal_before_buffering() -> None:
    decoder = FrameDecoder(max_frame=10)
    with pytest.raises(ProtocolError) as err:
        decoder.feed((11).to_bytes(4, "big"))
    assert err.value.code == "frame_too_large" and err.value.fatal


def test_partial_frame_is_reported() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00\x00") == [] and decoder.in_frame
    assert decoder.feed(b"\x00\x02a") == [] and decoder.in_frame
    assert decoder.feed(b"b") == [b"ab"] and not decoder.in_frame


def test_request_round_trip() -> None:
    (payload,) = FrameDecoder().feed(encode_request(3, "GetLogMsgs", {"limit": 5}))
    req = parse_request(payload)
    assert (req.id, req.method, req.params) == (3, "GetLogMsgs", {"limit": 5})


@pytest.mark.parametrize(
    ("raw", "rid"),
    [
        (b"nope", None),
        (b"[]", None),
        (b'{"method": "Ping"}', None),
        (b'{"id": true, "method": "Ping"}', None),
        (b'{"id": 1}', 1),
        (b'{"id": 1, "method": "Ping", "params": 3}', 1),
        (b'{"id": "x", "method": "Ping", "extra": 1}', "x"),
        (b'{"id": 1, "method": "Ping", "params": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}", 1),
    ],
)
def test_malformed_requests(raw: bytes, rid: object) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_request(raw)
    assert err.value.code == "bad_request"
    assert err.value.request_id == rid
    assert not err.value.fatal


def test_server_messages_round_trip() -> None:
    dec = FrameDecoder()
    frames = dec.feed(
        encode_response(1, {"ok": True})
        + encode_error(2, "not_found", "no such domain", {"k": 1})
        + encode_event("violations", {"violations": []})
    )
    msgs = [parse_server_message(f) for f in frames]
    assert msgs == [
        Response(1, {"ok": True}),
        ErrorResponse(2, "not_found", "no such domain", {"k": 1}),
        Event("violations", {"violations": []}),
    ]


def test_validate_params_fills_defaults_and_checks_types() -> None:
    spec = METHODS["GetViolations"]
    assert validate_params(spec, {}) == {"since_seq": 0, "limit": 1000}
    for bad in ({"limit": True}, {"limit": 0}, {"since_seq": -1}, {"limit": "1"}, {"x": 1}):
        with pytest.raises(ProtocolError) as err:
            validate_params(spec, bad)
        assert err.value.code == "invalid_params"
    pause = METHODS["PauseDomain"]
    assert validate_params(pause, {"domain": 4}) == {"domain": 4, "user": None}
    assert validate_params(pause, {"domain": 5000, "user": "alice"}) == {
        "domain": 5000,
        "user": "alice",
    }
    for bad_domain in ("", "x" * 129, -1, 0x7FF0, 1.5, None):
        with pytest.raises(ProtocolError):
            validate_params(METHODS["PauseDomain"], {"domain": bad_domain})
    with pytest.raises(ProtocolError):
        validate_params(METHODS["PauseDomain"], {})
    with pytest.raises(ProtocolError):
        validate_params(METHODS["GetPolicy"], {"which": "future"})


def test_every_contract_method_is_in_the_table() -> None:
    contract = [
        "GetHypervisorInfo",
        "GetDomainRunStates",
        "GetLogMsgs",
        "GetHardware",
        "GetPolicy",
        "StagePolicy",
        "GetStagedDiff",
        "ActivatePolicy",
        "RollbackPolicy",
        "ExportPolicy",
        "CreateDomain",
        "PauseDomain",
        "UnpauseDomain",
        "ShutdownDomain",
        "RebootDomain",
        "DestroyDomain",
        "GetStats",
        "GetStatsHistory",
        "GetViolations",
        "AddressViolations",
        "SetMisbehaviour",
        "ListAuthorizations",
        "AddAuthorization",
        "RemoveAuthorization",
        "Subscribe",
        "Ping",
    ]
    assert set(contract) <= set(METHODS)
    mutating = {m for m, spec in METHODS.items() if not spec.read_only}
    assert "PauseDomain" in mutating and "GetStats" not in mutating
    assert json.dumps(sorted(mutating))  # names are plain strings


def test_docs_name_every_method() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text()
    for name, spec in METHODS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{name}` |")), None)
        assert row is not None, name
        assert row.split("|")[2].strip() == ("yes" if spec.read_only else "no"), name
