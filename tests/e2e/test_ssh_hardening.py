"""The SSH front door against hostile clients: algorithms, pre-auth limits, pty sizes.

Real servers on 127.0.0.1 port 0 (``xenon console serve`` as a process, or in-process for
log capture), real clients: ssh-audit, OpenSSH, asyncssh and raw sockets from a second
loopback address (127.0.0.2) playing the flooder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from tests._support.ssh import SAMPLE_APP, Keys, ServerProc, wait_until
from xenon_tui.ssh import (
    ConfigError,
    ConsoleServer,
    Penalties,
    PreauthLimits,
    Role,
    ServeConfig,
    SshAlgorithms,
    UserDirectory,
    UserEntry,
)

FLOODER = "127.0.0.2"
_POST_QUANTUM_NOTE = "does not provide protection against post-quantum attacks"
# ssh-audit's information (not a warning) that strict kex, which we offer, also needs
# the client to support it for chacha20-poly1305 to be safe from Terrapin.
_STRICT_KEX_NOTE = "properly supports the strict key exchange method"


# -- helpers -------------------------------------------------------------------------------


def _audit(port: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "ssh_audit", "-j", "-p", str(port), "127.0.0.1"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert out.stdout, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _notes(report: dict[str, Any], level: str) -> list[tuple[str, str]]:
    return [
        (alg["algorithm"], note)
        for kind in ("kex", "key", "enc", "mac")
        for alg in report.get(kind, [])
        for note in alg.get("notes", {}).get(level, [])
    ]


async def _probe(port: int, source: str, hold: list[asyncio.StreamWriter]) -> bool:
    """One connection from ``source``: True when the server greeted it (then held open),
    False when it was closed without a word."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        async with asyncio.timeout(10):
            banner = await reader.read(256)
    except (ConnectionError, TimeoutError):
        banner = b""
    if banner.startswith(b"SSH-"):
        hold.append(writer)
        return True
    writer.close()
    return False


async def _connect(port: int, key: asyncssh.SSHKey, *, source: str = "127.0.0.1", **kw: Any) -> Any:
    return await asyncssh.connect(
        "127.0.0.1", port, local_addr=(source, 0), known_hosts=None, agent_path=None,
        username=kw.pop("username", "admin"), client_keys=[key], **kw,
    )  # fmt: skip


async def _read_until(proc: Any, pattern: str) -> re.Match[str]:
    text = ""
    async with asyncio.timeout(30):
        while True:
            match = re.search(pattern, re.sub(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]", "", text))
            if match:
                return match
            chunk = await proc.stdout.read(1 << 20)
            assert chunk, "session ended"
            text = (text + chunk.decode(errors="replace"))[-200_000:]


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) / 1024


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def inproc(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: an in-process server (sample app) with ``ServeConfig`` overrides."""
    servers: list[ConsoleServer] = []
    key = asyncssh.generate_private_key("ssh-ed25519")
    (tmp_path / "admin.pub").write_bytes(key.export_public_key())

    async def start(**overrides: Any) -> ConsoleServer:
        config = ServeConfig(state_dir=tmp_path / f"state{len(servers)}", port=0,
                             app=SAMPLE_APP, mode="spawn", **overrides)  # fmt: skip
        users = UserDirectory({"admin": UserEntry("admin", Role.ADMIN, tmp_path / "admin.pub")})
        srv = ConsoleServer(config, users, passwords=_Passwords())
        await srv.start()
        srv.client_key = key  # type: ignore[attr-defined]
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        async with asyncio.timeout(60):  # a failed test may leave a client connected
            await srv.close()


class _Passwords:
    async def authenticate(self, user: str, password: str) -> Role | None:
        return Role.READ_ONLY if (user, password) == ("audit", "s3cret") else None


# -- an independent auditor against `xenon console serve` ----------------------------------


def test_ssh_audit_finds_no_failure_and_no_warning_but_the_post_quantum_note(
    ssh_server: Callable[..., ServerProc],
) -> None:
    server = ssh_server()
    report = _audit(server.port)
    assert _notes(report, "fail") == []
    warnings = _notes(report, "warn")
    assert {alg for alg, _ in warnings} <= {"curve25519-sha256", "curve25519-sha256@libssh.org"}
    assert {note for _, note in warnings} <= {_POST_QUANTUM_NOTE}
    assert report["cves"] == [] and report["recommendations"] == {}
    # ssh-audit's own DHEat probe (hundreds of connections in 1.5 s) ran into the limits:
    # no "insufficient connection throttling" note, only the strict-kex remark.
    assert [n for n in report["additional_notes"] if _STRICT_KEX_NOTE not in n] == []
    kex = [a["algorithm"] for a in report["kex"]]
    assert kex[0] == "mlkem768x25519-sha256" and "kex-strict-s-v00@openssh.com" in kex
    assert not [k for k in kex if "nistp" in k or "sha1" in k or "group" in k]
    assert [a["algorithm"] for a in report["key"]] == ["ssh-ed25519"]
    ciphers = {a["algorithm"] for a in report["enc"]}
    assert ciphers == {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
                       "aes128-gcm@openssh.com"}  # fmt: skip
    assert all(a["algorithm"].endswith("-etm@openssh.com") for a in report["mac"])
    assert report["compression"] == ["none"]
    # The probe's refusals are logged once per burst with a count, not once per connection.
    lines = wait_until(lambda: re.findall(r"refused (\d+) connections? from 127\.0\.0\.1 "
                                          r"before key exchange", server.log()))  # fmt: skip
    assert isinstance(lines, list) and len(lines) <= 3 and sum(map(int, lines)) >= 20


def test_an_rsa_host_key_when_asked_for_signs_with_sha2_only(
    ssh_server: Callable[..., ServerProc],
) -> None:
    server = ssh_server("--host-key-type", "rsa-sha2", "--per-source-penalties", "off")
    report = _audit(server.port)
    assert _notes(report, "fail") == []
    assert sorted(a["algorithm"] for a in report["key"]) == ["rsa-sha2-256", "rsa-sha2-512"]
    assert {a.get("keysize") for a in report["key"]} == {4096}
    assert (server.state_dir / "ssh_host_rsa_key").exists()


# -- OpenSSH still gets in -----------------------------------------------------------------


@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the OpenSSH client")
def test_openssh_client_negotiates_the_hardened_algorithms_and_logs_in(
    ssh_server: Callable[..., ServerProc], ssh_keys: Keys
) -> None:
    server = ssh_server()
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr
    out = subprocess.run(
        server.ssh_argv("admin", ssh_keys.admin, "-vv", "-tt"),
        input="q", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Authenticated to 127.0.0.1" in out.stderr
    kex = re.search(r"kex: algorithm: (\S+)", out.stderr)
    assert kex and kex.group(1) in ("mlkem768x25519-sha256", "curve25519-sha256"), version
    assert "kex: host key algorithm: ssh-ed25519" in out.stderr
    cipher = re.search(r"kex: server->client cipher: (\S+) MAC: (\S+)", out.stderr)
    assert cipher and cipher.group(1) == "chacha20-poly1305@openssh.com"
    assert re.search(r"login user=admin role=admin addr=127\.0\.0\.1:\d+", server.log())


# -- a flood from one address --------------------------------------------------------------


async def test_a_flood_from_one_address_is_refused_before_key_exchange_and_others_get_in(
    ssh_server: Callable[..., ServerProc], ssh_keys: Keys
) -> None:
    server = ssh_server()
    key = asyncssh.read_private_key(ssh_keys.admin)
    held: list[asyncio.StreamWriter] = []
    results: list[bool] = []
    flood_started = asyncio.Event()

    async def flood() -> None:
        # 400 connections at most, 32 in flight, for at most 4 seconds.
        deadline = time.monotonic() + 4
        sem = asyncio.Semaphore(32)

        async def one() -> None:
            async with sem:
                if time.monotonic() < deadline:
                    results.append(await _probe(server.port, FLOODER, held))
                    if len(results) >= 50:
                        flood_started.set()

        await asyncio.gather(*(one() for _ in range(400)))
        flood_started.set()

    async def legit() -> float:
        await flood_started.wait()
        started = time.monotonic()
        async with asyncio.timeout(10):
            conn = await _connect(server.port, key, source="127.0.0.1")
        took = time.monotonic() - started
        conn.close()
        return took

    flooding = asyncio.create_task(flood())
    took = await legit()
    await flooding
    for writer in held:
        writer.close()

    admitted, refused = results.count(True), results.count(False)
    assert took < 2.0, f"a legitimate login took {took:.1f}s during the flood"
    assert refused >= 100 and admitted <= 10 + 1  # the burst, held open; the rest refused
    assert re.search(r"login user=admin role=admin addr=127\.0\.0\.1:\d+", server.log())

    # One line per burst with the count (every refusal counted), not one per connection.
    def logged() -> list[int]:
        found = re.findall(r"refused (\d+) connections? from 127\.0\.0\.2 before key exchange",
                           server.log())  # fmt: skip
        return [int(n) for n in found]

    wait_until(lambda: sum(logged()) == refused, what="every refusal to be logged")
    assert 1 <= len(logged()) <= 3
    assert server.log().count("127.0.0.2") < 40  # admitted ones: at most a line or two each


# -- in-process: limits, penalties and pty sizes, with the log captured -------------------


async def test_max_auth_tries_closes_the_connection_after_the_sixth_failure(
    inproc: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    srv = await inproc(limits=PreauthLimits(penalties=None))
    strangers = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(8)]
    with pytest.raises(asyncssh.DisconnectError):
        await asyncssh.connect(
            "127.0.0.1", srv.port, known_hosts=None, agent_path=None, username="admin",
            client_keys=[*strangers, srv.client_key], password=None,
        )  # fmt: skip
    assert caplog.text.count("key not authorized") == 6
    assert re.search(r"too many authentication failures \(6\) user=admin", caplog.text)
    assert "login user=admin role=" not in caplog.text  # the good key (9th) was never tried


async def test_failed_logins_shut_the_source_out_and_the_penalty_grows(
    inproc: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    from xenon_tui.ssh._gate import Gate

    caplog.set_level(logging.INFO, logger="xenon.ssh")
    srv = await inproc()
    clock = _Clock()
    srv.gate = Gate(srv.config.limits, clock)
    for _ in range(3):  # 3 x authfail:5 reaches min:15
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", srv.port, known_hosts=None,
                                   agent_path=None, username="audit", password="wrong",
                                   client_keys=None)  # fmt: skip
    await asyncio.sleep(0.2)  # the server sees the last close
    assert re.search(r"penalty: 127\.0\.0\.1 shut out for 15s", caplog.text)
    # Even the right key is refused from there now, before any key exchange...
    with pytest.raises((ConnectionError, asyncssh.Error)):
        await _connect(srv.port, srv.client_key)
    # ...while another address logs in.
    conn = await _connect(srv.port, srv.client_key, source="127.0.0.3")
    conn.close()
    clock.now += 15  # the penalty ran out
    conn = await _connect(srv.port, srv.client_key)
    conn.close()
    await srv.close()
    assert re.search(r"refused 1 connection from 127\.0\.0\.1 before key exchange in "
                     r"[\d.]+s \(penalty=1\)", caplog.text)  # fmt: skip


async def test_login_grace_time_closes_silent_connections_and_charges_their_source(
    inproc: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    srv = await inproc(login_timeout_s=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    async with asyncio.timeout(10):
        assert (await reader.readline()).startswith(b"SSH-2.0-")
        await reader.read()  # until the server closes it: we send nothing
    writer.close()
    assert re.search(r"login grace time \(0\.5s\) exceeded user=- addr=127\.0\.0\.1", caplog.text)
    await asyncio.sleep(0.1)
    assert re.search(r"penalty: 127\.0\.0\.1 shut out for 20s", caplog.text)  # grace-exceeded


async def test_sha1_rsa_signatures_are_refused_even_when_the_key_is_authorized(
    inproc: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = await inproc(limits=PreauthLimits(penalties=None))
    rsa = asyncssh.generate_private_key("ssh-rsa", key_size=3072)
    (tmp_path / "admin.pub").write_bytes(rsa.export_public_key())
    conn = await _connect(srv.port, rsa)  # a well-behaved client picks rsa-sha2-*
    conn.close()

    # A client that ignores server-sig-algs (which leaves ssh-rsa out) and signs with SHA-1:
    # asyncssh's server would verify that signature unless the key is narrowed.
    def sign_with_sha1(self: Any, keypair: Any) -> bool:
        keypair.set_sig_algorithm(b"ssh-rsa")
        return True

    monkeypatch.setattr(asyncssh.SSHClientConnection, "_choose_signature_alg", sign_with_sha1)
    with pytest.raises(asyncssh.PermissionDenied):
        conn = await _connect(srv.port, rsa, signature_algs=["ssh-rsa"])
        conn.close()


@pytest.mark.parametrize(
    "weak",
    [{"kex_algs": ["ecdh-sha2-nistp256", "diffie-hellman-group14-sha1",
                   "diffie-hellman-group-exchange-sha256"]},
     {"encryption_algs": ["aes128-ctr", "aes128-cbc"]},
     {"compression_algs": ["zlib@openssh.com"]}],
)  # fmt: skip
async def test_clients_insisting_on_weak_algorithms_are_turned_away(
    inproc: Callable[..., Any], weak: dict[str, Any]
) -> None:
    srv = await inproc(limits=PreauthLimits(penalties=None))
    with pytest.raises(asyncssh.KeyExchangeFailed):
        await _connect(srv.port, srv.client_key, **weak)


async def test_a_huge_pty_and_window_change_are_capped_and_logged(
    inproc: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    srv = await inproc()
    conn = await _connect(srv.port, srv.client_key)
    proc = await conn.create_process(term_type="xterm", term_size=(10000, 10000), encoding=None)
    pid = int((await _read_until(proc, r"pid=(\d+)")).group(1))
    await _read_until(proc, r"size=1000x500")
    proc.change_terminal_size(20000, 300, 70000, 70000)
    await _read_until(proc, r"size=1000x300")
    assert _rss_mib(pid) < 400  # 10000x10000 once took a console to 935 MiB
    proc.stdin.write(b"q")
    assert (await proc.wait()).exit_status == 0
    conn.close()
    assert "pty size 10000x10000 capped to 1000x500 user=admin" in caplog.text
    assert re.search(
        r"session \S+ started user=admin pid=\d+ term=xterm size=1000x500", caplog.text
    )
    assert re.search(r"window change session=\S+ user=admin size=1000x300 \(asked 20000x300\)",
                     caplog.text)  # fmt: skip


async def test_window_change_floods_are_logged_about_once_a_second(
    inproc: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xenon.ssh")
    srv = await inproc()
    conn = await _connect(srv.port, srv.client_key)
    proc = await conn.create_process(term_type="xterm", term_size=(80, 24), encoding=None)
    await _read_until(proc, r"size=80x24")
    started = time.monotonic()
    for i in range(200):
        proc.change_terminal_size(81 + i % 2, 25)
    await _read_until(proc, r"size=8[12]x25")
    proc.change_terminal_size(100, 30)
    changes = 201
    # A change a second after the flood is logged. Under load the server may take the
    # flood's tail later than the client sent it, so the second is the server's: a new
    # size each second until one is logged (a liveness bound, not a timing).
    pattern = r"window change session=\S+ user=admin size=(\d+x\d+)(.*)"
    for width in range(101, 121):
        await asyncio.sleep(1.1)
        proc.change_terminal_size(width, 30)
        changes += 1
        await _read_until(proc, rf"size={width}x30")
        if re.findall(pattern, caplog.text)[-1][0] == f"{width}x30":
            break
    elapsed = time.monotonic() - started
    proc.stdin.write(b"q")
    await proc.wait()
    conn.close()
    lines = re.findall(pattern, caplog.text)
    assert lines[-1][0] == f"{width}x30"
    # About once a second, and every change is either logged or counted in the next line.
    assert 2 <= len(lines) <= elapsed + 2, (len(lines), elapsed)
    skipped = [int(m) for _, rest in lines for m in re.findall(r"\+(\d+) not logged", rest)]
    assert len(lines) + sum(skipped) == changes, (lines, changes)
    assert sum(skipped) >= 150  # the flood itself was not logged line by line


# -- the gate itself, on a clock of its own ------------------------------------------------


def test_gate_rate_limits_each_source_and_keeps_others_out_of_it() -> None:
    from xenon_tui.ssh._gate import Gate

    clock = _Clock()
    gate = Gate(PreauthLimits(per_source_max_startups=0, penalties=None), clock)
    verdicts = [gate.admit("10.0.0.1")[1] for _ in range(15)]
    assert verdicts == [None] * 10 + ["rate"] * 5
    assert gate.admit("10.0.0.2") == ("10.0.0.2", None)
    clock.now += 0.1  # one token back
    assert [gate.admit("10.0.0.1")[1] for _ in range(2)] == [None, "rate"]
    clock.now += 0.5
    assert gate.reports() == []  # the burst is not over yet
    clock.now += 0.5
    (report,) = gate.reports()
    assert (report.source, report.counts, report.total) == ("10.0.0.1", {"rate": 6}, 6)
    assert gate.reports() == [] and not gate.pending_reports


def test_gate_caps_unauthenticated_connections_per_source_and_in_all() -> None:
    from xenon_tui.ssh._gate import Gate

    clock = _Clock()
    gate = Gate(PreauthLimits(rate_per_s=0, max_startups=5, per_source_max_startups=3), clock)
    assert [gate.admit("10.0.0.1")[1] for _ in range(4)] == [None] * 3 + ["per-source-startups"]
    assert [gate.admit("10.0.0.2")[1] for _ in range(3)] == [None, None, "startups"]
    gate.authenticated("10.0.0.2")  # a login frees its slot
    assert gate.admit("10.0.0.3")[1] is None
    assert gate.unauthenticated == 5
    assert gate.reports(flush=True)[0].counts == {"per-source-startups": 1}


def test_gate_penalties_accumulate_shut_out_at_min_and_stop_at_max() -> None:
    from xenon_tui.ssh._gate import Gate

    clock = _Clock()
    gate = Gate(PreauthLimits(rate_per_s=0), clock)
    for _ in range(2):
        source, _ = gate.admit("10.0.0.1")
        assert gate.closed(source, "authfail") == 0.0  # 5, 10: below min 15
    source, _ = gate.admit("10.0.0.1")
    assert gate.closed(source, "authfail") == 15.0
    assert gate.admit("10.0.0.1")[1] == "penalty"
    assert gate.admit("10.0.0.9")[1] is None
    clock.now += 15
    source, verdict = gate.admit("10.0.0.1")
    assert verdict is None
    for _ in range(200):
        gate.closed(source, "grace-exceeded")
    assert gate.admit("10.0.0.1")[1] == "penalty"
    clock.now += 599
    assert gate.admit("10.0.0.1")[1] == "penalty"
    clock.now += 1.5
    assert gate.admit("10.0.0.1")[1] is None  # max:600


def test_gate_groups_ipv6_by_prefix_and_unmaps_ipv4() -> None:
    from xenon_tui.ssh._gate import source_of

    assert source_of("::ffff:10.1.2.3") == "10.1.2.3"
    assert source_of("2001:db8:1:2:aaaa::1") == source_of("2001:db8:1:2:bbbb::9")
    assert source_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert source_of("2001:db8:1:2::1", 128) == "2001:db8:1:2::1/128"
    assert source_of("fe80::1%eth0") == "fe80::/64"


def test_penalty_and_limit_settings_are_checked() -> None:
    assert Penalties.parse("off") is None
    assert Penalties.parse("authfail:2,max:60") == Penalties(authfail=2, max_s=60)
    parsed = Penalties.parse("grace-exceeded:3,noauth:0,min:1")
    assert parsed == Penalties(grace_exceeded=3, noauth=0, min_s=1)
    for bad in ("authfail", "crash:90", "authfail:x", "min:700"):
        with pytest.raises(ConfigError):
            Penalties.parse(bad)
    for limits in ({"rate_per_s": -1}, {"burst": 0}, {"max_auth_tries": 0},
                   {"per_source_max_startups": -1}, {"rate_per_s": float("nan")}):  # fmt: skip
        with pytest.raises(ConfigError):
            PreauthLimits(**limits)
    with pytest.raises(ConfigError):
        ServeConfig(state_dir=Path("/x"), max_term_size=(10000, 10000))
    with pytest.raises(ConfigError):
        ServeConfig(state_dir=Path("/x"), login_timeout_s=0)


@pytest.mark.parametrize(
    ("field", "names"),
    [("kex", ("diffie-hellman-group14-sha1",)), ("kex", ("diffie-hellman-group-exchange-sha256",)),
     ("kex", ("gss-curve25519-sha256",)), ("kex", ("nonsense",)),
     ("ciphers", ("aes128-cbc",)), ("ciphers", ("arcfour",)), ("ciphers", ("3des-cbc",)),
     ("macs", ("hmac-sha1",)), ("macs", ("hmac-sha2-256",)), ("macs", ("umac-64-etm@openssh.com",)),
     ("macs", ("hmac-sha2-256-96-etm@openssh.com",)), ("ciphers", ())],
)  # fmt: skip
def test_broken_algorithms_cannot_be_configured(field: str, names: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        SshAlgorithms(**{field: names})  # type: ignore[arg-type]


def test_weaker_algorithms_can_be_asked_for_and_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    algs = SshAlgorithms(kex=("curve25519-sha256", "ecdh-sha2-nistp256"),
                         ciphers=("aes256-gcm@openssh.com", "aes256-ctr"))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="xenon.ssh"):
        algs.log_choices()
    assert "beyond the hardened defaults were asked for: ecdh-sha2-nistp256,aes256-ctr" in (
        caplog.text
    )
    options = algs.server_options()
    assert options["kex_algs"] == ["curve25519-sha256", "ecdh-sha2-nistp256"]
    assert options["mac_algs"] == ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com"]
    assert options["compression_algs"] is None
    assert "ssh-rsa" not in options["signature_algs"]  # type: ignore[operator]
    assert SshAlgorithms().kex_algs[0] == "mlkem768x25519-sha256"


def test_host_key_type_is_checked_against_the_file(tmp_path: Path) -> None:
    from xenon_tui.ssh import HostKeyError, load_or_create_host_key

    ed = load_or_create_host_key(tmp_path / "ed")
    assert ed.algorithm == b"ssh-ed25519"
    with pytest.raises(HostKeyError, match="is ssh-ed25519, not rsa-sha2"):
        load_or_create_host_key(tmp_path / "ed", "rsa-sha2")
    small = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    (tmp_path / "small").write_bytes(small.export_private_key())
    (tmp_path / "small").chmod(0o600)
    with pytest.raises(HostKeyError, match="2048 bits"):
        load_or_create_host_key(tmp_path / "small", "rsa-sha2")
    big = asyncssh.generate_private_key("ssh-rsa", key_size=3072)
    (tmp_path / "big").write_bytes(big.export_private_key())
    (tmp_path / "big").chmod(0o600)
    rsa = load_or_create_host_key(tmp_path / "big", "rsa-sha2")
    assert tuple(rsa.sig_algorithms) == (b"rsa-sha2-512", b"rsa-sha2-256")
    with pytest.raises(ValueError):
        rsa.sign(b"data", b"ssh-rsa")


def test_serve_flags_reach_the_config(tmp_path: Path) -> None:
    import argparse

    from xenon_tui.cli.console_serve import add_serve_arguments, build_server

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    args = parser.parse_args([
        "--user", "a=/dev/null", "--state-dir", str(tmp_path), "--ssh-kex", "curve25519-sha256",
        "--ssh-ciphers", "aes256-gcm@openssh.com", "--host-key-type", "rsa-sha2",
        "--login-grace-time", "10", "--max-auth-tries", "3", "--max-startups", "20",
        "--per-source-max-startups", "2", "--per-source-rate", "5",
        "--per-source-penalties", "authfail:30", "--max-term-size", "300x100",
    ])  # fmt: skip
    config = build_server(args).config
    assert config.algorithms.kex_algs == ("curve25519-sha256",)
    assert config.algorithms.cipher_algs == ("aes256-gcm@openssh.com",)
    assert config.host_key_path == tmp_path / "ssh_host_rsa_key"
    assert config.login_timeout_s == 10 and config.max_term_size == (300, 100)
    limits = config.limits
    assert (limits.max_auth_tries, limits.max_startups, limits.per_source_max_startups) == (
        3,
        20,
        2,
    )
    assert (limits.rate_per_s, limits.burst) == (5, 5)
    assert limits.penalties == Penalties(authfail=30)
    with pytest.raises(SystemExit):
        parser.parse_args(["--ssh-macs", "a,,b"])
    with pytest.raises(ConfigError):
        build_server(parser.parse_args(["--user", "a=/dev/null", "--ssh-macs", "hmac-sha1"]))
