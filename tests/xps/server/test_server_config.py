"""Configuration: Java properties syntax, the §3.1 precedence, address parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from xps.server import ConfigError, load_config, parse_address, parse_define, parse_properties

TLS = {"xps.tls.ca": "/ca.pem", "xps.tls.cert": "/c.pem", "xps.tls.key": "/k.pem"}


def test_java_properties_syntax() -> None:
    text = (
        "# comment\n"
        "! another comment\n"
        "  a = 1\n"
        "b:2\n"
        "c 3\n"
        "long = first \\\n"
        "       second\n"
        "esc = tab\\there\\u0041\n"
        "key\\ with\\ spaces = v\n"
        "empty\n"
        "a = override\n"
    )
    assert parse_properties(text) == {
        "a": "override",
        "b": "2",
        "c": "3",
        "long": "first second",
        "esc": "tab\thereA",
        "key with spaces": "v",
        "empty": "",
    }
    with pytest.raises(ConfigError):
        parse_properties("bad = \\u12\n")


def test_defines_win_over_the_file_and_flags_win_over_both(tmp_path: Path) -> None:
    props = tmp_path / "xenon-policy.properties"
    props.write_text(
        "xps.listen = 10.0.0.1:7000\n"
        "xps.ro-listen = 10.0.0.1:7001\n"
        "xps.frame-timeout = 30\n"
        "xps.backend = xen\n" + "".join(f"{k} = {v}\n" for k, v in TLS.items())
    )
    config = load_config(
        props,
        {"xps.frame-timeout": "2.5", "xps.ro-listen": "127.0.0.1:0"},
        {"xps.ro-listen": "none", "xps.state-dir": str(tmp_path)},
    )
    assert config.listen == ("10.0.0.1", 7000)  # file only
    assert config.frame_timeout == 2.5  # -D over the file
    assert config.ro_listen is None  # flag over -D
    assert config.backend == "xen" and config.state_dir == tmp_path
    assert config.resolved_log_file == tmp_path / "xenon-policy-server.log"


def test_java_keystore_property_names_are_accepted(tmp_path: Path) -> None:
    config = load_config(
        None,
        {
            "javax.net.ssl.keyStore": "/ks.p12",
            "javax.net.ssl.keyStorePassword": "pw",
            "javax.net.ssl.trustStore": "/ca.pem",
            "xps.state-dir": str(tmp_path),
        },
        {},
    )
    assert config.tls.keystore == Path("/ks.p12") and config.tls.keystore_pass == "pw"
    assert "pw" not in repr(config.authstore_pass)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({}, "trust store"),
        ({"xps.tls.ca": "/ca.pem"}, "--cert and --key"),
        ({**TLS, "xps.backend": "kvm"}, "sim or xen"),
        ({**TLS, "xps.listen": "none", "xps.ro-listen": "off"}, "at least one"),
        ({**TLS, "xps.frame-timeout": "soon"}, "not a number"),
        ({**TLS, "xps.log.stderr": "maybe"}, "not a boolean"),
        ({**TLS, "xps.local-addresses": "127.0.0.1,nope"}, "not an IP address"),
    ],
)
def test_invalid_configuration_is_refused(props: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(None, props, {})
    assert message in str(err.value)


def test_missing_named_properties_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(tmp_path / "absent.properties", TLS, {})


def test_addresses() -> None:
    assert parse_address("127.0.0.1:0", "x") == ("127.0.0.1", 0)
    assert parse_address("[::1]:9443", "x") == ("::1", 9443)
    assert parse_address("none", "x") is None
    for bad in ("9443", "host:", "host:70000", ":1"):
        with pytest.raises(ConfigError):
            parse_address(bad, "x")
    assert parse_define("a.b=c=d") == ("a.b", "c=d")
    with pytest.raises(ConfigError):
        parse_define("=v")


def test_packaged_properties_file_is_valid(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    example = root / "packaging" / "xenon-policy.properties"
    props = parse_properties(example.read_text())
    from xps.server import DEFAULTS

    assert set(props) <= set(DEFAULTS)
    config = load_config(example, {}, {"xps.state-dir": str(tmp_path)})
    assert config.backend == "xen" and config.listen == ("127.0.0.1", 9443)
    assert config.resolved_log_file == Path("/var/log/xenon-tools/xenon-policy-server.log")
    rotate = (root / "packaging" / "logrotate" / "xenon-policy-server").read_text()
    assert str(config.resolved_log_file) + " {" in rotate
    assert rotate.count("\n   copytruncate\n") == 2


def test_hostname_property_names_the_host_and_is_validated() -> None:
    assert load_config(None, {**TLS, "xps.hostname": "xenon-2"}, {}).hostname == "xenon-2"
    assert load_config(None, TLS, {}).hostname is None
    with pytest.raises(ConfigError, match=r"xps\.hostname"):
        load_config(None, {**TLS, "xps.hostname": "bad host"}, {})
