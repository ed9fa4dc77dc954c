"""Manage authorization: a server's authorized client certificates, listed, added, removed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from xenon_tui._errors import ConfigError
from xenon_tui.flows._console import Console

_MAX_PEM = 64 * 1024


def _read_pem(path: str) -> str:
    pem_path = Path(path).expanduser()
    if pem_path.stat().st_size > _MAX_PEM:
        raise ConfigError(f"{path} is too large for a certificate")
    return pem_path.read_text()


def _entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    items = result.get("authorizations", result.get("entries", []))
    return [i if isinstance(i, dict) else {"alias": str(i)} for i in items]


class Authorizations:
    """One server's authorization store, as the *Manage authorization* dialog uses it
    (``dialogs.AuthStore``). Every method raises ConsoleError subclasses."""

    def __init__(self, console: Console, address: str) -> None:
        self.console, self.address = console, address

    async def entries(self) -> list[dict[str, Any]]:
        """The authorized certificates (alias, subject, fingerprint)."""
        return _entries(await self.console.call(self.address, "ListAuthorizations"))

    async def add(self, alias: str, pem_file: str) -> None:
        """Authorizes the certificate in ``pem_file`` under ``alias``."""
        try:
            pem = await asyncio.to_thread(_read_pem, pem_file)
        except OSError as exc:
            raise ConfigError(f"cannot read {pem_file}: {exc.strerror}") from exc
        if "-----BEGIN CERTIFICATE-----" not in pem:
            raise ConfigError(f"{pem_file} holds no PEM certificate")
        await self.console.call(self.address, "AddAuthorization", alias=alias, cert_pem=pem)

    async def remove(self, alias: str) -> None:
        """Removes the certificate authorized under ``alias``."""
        await self.console.call(self.address, "RemoveAuthorization", alias=alias)
