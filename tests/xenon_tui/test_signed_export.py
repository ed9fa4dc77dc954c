"""The console's signed export refuses a certificate verify would refuse, and writes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests._support.console import console_config, wait_connected, wait_for
from xenon_tui.app import XenonConsole
from xenon_tui.dialogs import InputDialog
from xenon_tui.widgets import ModeBand
from xps.host import Host, HostConfig


def _encipher_only_signer(tmp: Path) -> tuple[Path, Path]:
    """A v3 certificate whose key usage forbids digitalSignature (a TLS key-exchange cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls-only-signer")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(False, False, False, False, True, False, False, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = tmp / "sign-key.pem", tmp / "sign-cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


async def test_signed_export_with_an_unfit_certificate_shows_why_and_writes_nothing(
    start_xps: Any, xps_pki: Any, tmp_path: Path
) -> None:
    key_file, cert_file = _encipher_only_signer(tmp_path)
    host = await Host.open(
        HostConfig(
            state_dir=tmp_path / "host",
            backend="sim",
            stats_interval_s=0.5,
            sign_key=key_file,
            sign_cert=cert_file,
        )
    )
    try:
        running = await start_xps(host)
        out = tmp_path / "exported.xml"
        app = XenonConsole(console_config(xps_pki, running, tmp=tmp_path))
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_connected(pilot, app)
            await pilot.press("m")  # export is a Policy Editor action
            await wait_for(pilot, lambda: app.query_one(ModeBand).has_class("-editor"))
            await pilot.press("colon", *"export", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, InputDialog))
            app.screen.query_one("#value").value = str(out)
            await pilot.press("enter")
            await wait_for(
                pilot,
                lambda: any("digitalSignature" in n.message for n in app._notifications),
            )
            note = next(n for n in app._notifications if "digitalSignature" in n.message)
            assert "CN=tls-only-signer" in note.message
            assert not any("written to" in n.message for n in app._notifications)
        assert not out.exists()
    finally:
        await host.close()
