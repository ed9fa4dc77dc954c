"""``xenon xe serve --log-format json``: one JSON object per line, escaped, no secrets."""

from __future__ import annotations

import io
import json
import logging
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

from enterprise_store._logging import JsonFormatter, TextFormatter, configure, redact

HOSTILE = 'mallory\n2026-12-06 INFO xenon.xe: forged {"level": "INFO"}\r\x1b[2J'


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("xenon.xe.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_json_line_carries_level_logger_message_and_stays_one_line() -> None:
    line = JsonFormatter().format(_record("login refused for %s", HOSTILE))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    doc = json.loads(line)
    assert doc["level"] == "WARNING" and doc["logger"] == "xenon.xe.test"
    assert doc["message"] == f"login refused for {HOSTILE}"
    assert doc["ts"].endswith("+00:00")


def test_a_text_line_escapes_control_characters() -> None:
    line = TextFormatter().format(_record("login refused for %s", HOSTILE))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "mallory\\n2026-12-06" in line


def test_credentials_are_redacted_in_both_formats() -> None:
    message = "auth Bearer xea_s3cret-token; password=hunter2 token: 'abc def' user=bob"
    assert redact(message) == (
        "auth Bearer [redacted]; password=[redacted] token: [redacted] user=bob"
    )
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(_record(message))
        assert "xea_s3cret" not in line and "hunter2" not in line and "abc def" not in line


def test_configure_sends_the_root_logger_to_the_stream_in_json() -> None:
    stream = io.StringIO()
    handler = configure("json", stream=stream)
    try:
        logging.getLogger("xenon.xe.probe").info("hello %s", "there")
    finally:
        logging.getLogger().removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert (doc["level"], doc["logger"], doc["message"]) == (
        "INFO",
        "xenon.xe.probe",
        "hello there",
    )


def test_serve_logs_json_lines_and_a_hostile_user_name_stays_on_its_line(
    xe_state: Path,
    start_serve: Callable[..., tuple[subprocess.Popen[str], str]],
    admin_password_cli: str,
) -> None:
    proc, url = start_serve(xe_state, "--log-format", "json")
    ca = xe_state / "pki" / "ca-cert.pem"
    tls = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(base_url=url, verify=tls, timeout=30) as http:
        # A hostile user name in a login and in a path: whatever of it reaches a log line
        # stays inside that line's JSON string.
        refused = http.post("/api/v1/auth/login", json={"username": HOSTILE, "password": "x"})
        assert refused.status_code in (400, 401, 422), refused.text
        answer = http.get(f"/api/v1/users/{quote(HOSTILE, safe='')}")
        assert answer.status_code == 401
        login = http.post("/api/v1/auth/login", json={"username": "admin",
                                                    "password": admin_password_cli})  # fmt: skip
        assert login.status_code in (200, 201), login.text
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    lines = [x for x in (xe_state / "serve.log").read_text().splitlines() if x.strip()]
    docs = []
    for line in lines:
        if line.startswith("{"):
            docs.append(json.loads(line))
        else:  # only Python's own warnings at import may be plain text (not our logging)
            assert "Warning" in line or line.startswith(" "), line
    assert docs, lines
    for doc in docs:
        assert {"ts", "level", "logger", "message"} <= doc.keys()
    hostile = [d for d in docs if "mallory" in d["message"]]
    assert hostile and all(d["logger"] == "uvicorn.access" for d in hostile)
    assert not any("forged" in line and not line.startswith("{") for line in lines)
    assert any(d["logger"] == "xenon.xe.server" and "listening" in d["message"] for d in docs)
    assert admin_password_cli not in "\n".join(lines)


def test_serve_help_offers_the_log_format() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "enterprise_store.cli", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "--log-format {text,json}" in done.stdout
