"""Demo state directory: CA and certificates, SSH keys, and the files the services read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from xps.pki import CA_CERT, init_ca, issue, write_private

XPS_CERT_NAME = "xps-demo"
CONSOLE_CERT_NAME = "console"
# Read-only SSH sessions present this one; daemons refuse it on their read-write sockets.
CONSOLE_RO_CERT_NAME = "console-ro"


@dataclass(frozen=True)
class DemoPaths:
    """Where everything of one demo lives (one directory; a second run reuses it)."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ssh(self) -> Path:
        return self.root / "ssh"

    @property
    def hosts_file(self) -> Path:
        """Ports and TLS files of the running hosts (read by the workload driver)."""
        return self.root / "hosts.json"

    @property
    def console_file(self) -> Path:
        return self.root / "console.json"

    def host_dir(self, name: str) -> Path:
        return self.root / "hosts" / name

    def seeded(self, name: str) -> Path:
        """Written once the host got the sample policy: later runs keep what it runs."""
        return self.host_dir(name) / "demo-seeded.json"

    def user_key(self, user: str) -> Path:
        return self.ssh / f"{user}_ed25519"

    @property
    def ca(self) -> Path:
        return self.pki / CA_CERT

    def cert(self, name: str) -> Path:
        return self.pki / f"{name}-cert.pem"

    def key(self, name: str) -> Path:
        return self.pki / f"{name}-key.pem"


def prepare(paths: DemoPaths) -> None:
    """Creates what is missing: the demo CA, XPS and console certificates, SSH keys.

    The consoles get two client certificates: ``console`` and the read-only
    ``console-ro`` (``xenon pki issue console-ro --client --read-only``).
    """
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not paths.ca.exists():
        init_ca(paths.pki, common_name="Xenon Demo CA")
    if not paths.cert(XPS_CERT_NAME).exists():
        issue(paths.pki, XPS_CERT_NAME, "server", sans=["localhost", "127.0.0.1", "::1"])
    if not paths.cert(CONSOLE_CERT_NAME).exists():
        issue(paths.pki, CONSOLE_CERT_NAME, "client")
    if not paths.cert(CONSOLE_RO_CERT_NAME).exists():
        issue(paths.pki, CONSOLE_RO_CERT_NAME, "client", read_only=True)
    for user in ("admin", "viewer"):
        key_path = paths.user_key(user)
        if not key_path.exists():
            key = asyncssh.generate_private_key("ssh-ed25519", comment=f"xenon-demo-{user}")
            write_private(key_path, key.export_private_key("openssh"))
            write_private(key_path.with_suffix(".pub"), key.export_public_key(), mode=0o644)


def tls_settings(paths: DemoPaths) -> dict[str, str]:
    """The client TLS material every console of the demo uses."""
    return {
        "ca": str(paths.ca),
        "cert": str(paths.cert(CONSOLE_CERT_NAME)),
        "key": str(paths.key(CONSOLE_CERT_NAME)),
    }


def console_settings(paths: DemoPaths, hosts: list[dict[str, Any]]) -> dict[str, Any]:
    """The console file of the SSH server: servers, TLS, and the read-only certificate."""
    return {
        "servers": hosts,
        **tls_settings(paths),
        "tls_read_only": {
            "cert": str(paths.cert(CONSOLE_RO_CERT_NAME)),
            "key": str(paths.key(CONSOLE_RO_CERT_NAME)),
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Writes a small JSON file atomically (0600)."""
    write_private(path, json.dumps(data, indent=2).encode() + b"\n")
