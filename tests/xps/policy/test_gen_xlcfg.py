"""xl domain configuration generator: secure defaults per guest type and extra-option checks."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tests._support.policy import make_policy, uid
from xps.policy import PolicyLookupError
from xps.policy.generators import (
    FORBIDDEN_EXTRA_KEYS,
    GeneratorError,
    check_extra_option,
    xl_config,
)


def _kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, _, value = line.partition(" = ")
        assert key not in out, f"duplicate key {key}"
        out[key] = value
    return out


def _with_domain(**changes: object):
    policy = make_policy()
    dom = policy.domain_named(str(changes.pop("name", "EA-domu-1")))
    return policy.with_domain(dataclasses.replace(dom, **changes))  # type: ignore[arg-type]


def test_pv_guest_has_identity_label_boot_and_secure_lifecycle() -> None:
    cfg = _kv(xl_config(make_policy(), "EA-domu-1"))
    assert cfg["name"] == '"EA-domu-1"'
    assert cfg["uuid"] == f'"{uid("d1")}"'
    assert cfg["type"] == '"pv"'
    assert cfg["seclabel"] == '"EA-seclabel"'
    assert (cfg["memory"], cfg["maxmem"], cfg["vcpus"], cfg["maxvcpus"]) == ("2048",) * 2 + (
        "2",
    ) * 2
    assert cfg["kernel"] == '"/boot/vmlinuz-6.1"' and cfg["ramdisk"] == '"/boot/initrd-6.1"'
    assert cfg["cmdline"] == '"root=/dev/xvda1 ro"'
    assert "bootloader" not in cfg  # no pygrub unless the policy asks for it
    assert cfg["on_crash"] == '"destroy"' and cfg["on_poweroff"] == '"destroy"'
    assert cfg["on_reboot"] == '"restart"'
    # The file-mode disk lives under the storage location's base path.
    assert cfg["disk"] == "[ '/var/lib/xenon/EA/EA-domu-1.qcow2,qcow2,xvda,rw' ]"
    # VIFs: bridge = switch name; the internal switch is served by the driver domain.
    assert "'mac=00:16:3e:f3:e2:d1,bridge=EAbr,ip=172.19.1.101'" in cfg["vif"]
    assert "'mac=00:16:3e:00:50:01,bridge=EAint,ip=192.168.50.11,backend=EA-net'" in cfg["vif"]


def test_pvhvm_is_hvm_with_pv_drivers_and_no_emulated_devices() -> None:
    cfg = _kv(xl_config(make_policy(), "EA-domu-2"))
    assert cfg["type"] == '"hvm"'
    assert cfg["xen_platform_pci"] == "1"
    assert cfg["serial"] == '"pty"' and cfg["usb"] == "0"
    assert cfg["vnc"] == "0" and cfg["nographic"] == "1" and cfg["vga"] == '"none"'
    assert "soundhw" not in cfg and "vncpasswd" not in cfg
    assert "type=vif" in cfg["vif"] and "ioemu" not in cfg["vif"]
    assert cfg["maxmem"] == "2048" and cfg["memory"] == "1024"
    # Extra options come last, after the generated ones.
    keys = list(cfg)
    assert keys[-2:] == ["viridian", "cpus"] and cfg["cpus"] == '"2-3"'


def test_hvm_vnc_on_loopback_with_password_and_emulated_nic() -> None:
    text = xl_config(make_policy(), "EB-domu-1", vnc_password="Zx9-pass")
    cfg = _kv(text)
    assert cfg["xen_platform_pci"] == "0"
    assert cfg["vnc"] == "1" and cfg["vnclisten"] == '"127.0.0.1"'
    assert cfg["vncdisplay"] == "3" and cfg["vncpasswd"] == '"Zx9-pass"'
    assert "type=ioemu,model=e1000" in cfg["vif"]
    assert cfg["disk"] == "[ 'format=raw,vdev=hda,access=rw,backendtype=phy,target=/dev/sdb' ]"


def test_vnc_without_password_is_refused() -> None:
    with pytest.raises(GeneratorError) as err:
        xl_config(make_policy(), "EB-domu-1")
    assert err.value.code == "policy.generator.vnc-password"
    assert "EB-domu-1" in str(err.value)


def test_vnc_on_a_public_address_is_refused() -> None:
    policy = _with_domain(name="EB-domu-1", vnc_listen="0.0.0.0")
    with pytest.raises(GeneratorError) as err:
        xl_config(policy, "EB-domu-1", vnc_password="pw")
    assert err.value.code == "policy.generator.vnc-listen"


def test_pv_vnc_uses_a_framebuffer_line() -> None:
    policy = _with_domain(vnc=True)
    cfg = _kv(xl_config(policy, "EA-domu-1", vnc_password="pw1"))
    assert cfg["vfb"] == "[ 'vnc=1,vnclisten=127.0.0.1,vncunused=1,vncpasswd=pw1,sdl=0' ]"


def test_pv_without_kernel_or_bootloader_is_refused() -> None:
    policy = _with_domain(kernel=None, ramdisk=None, cmdline=None)
    with pytest.raises(GeneratorError) as err:
        xl_config(policy, "EA-domu-1")
    assert err.value.code == "policy.generator.no-boot"
    assert "kernel or a bootloader" in str(err.value)


def test_pv_bootloader_only_when_set_and_only_for_pv() -> None:
    policy = _with_domain(kernel=None, ramdisk=None, cmdline=None, bootloader="pygrub")
    assert _kv(xl_config(policy, "EA-domu-1"))["bootloader"] == '"pygrub"'
    bad = _with_domain(name="EA-domu-2", bootloader="pygrub")
    with pytest.raises(GeneratorError, match="only valid for PV"):
        xl_config(bad, "EA-domu-2")


def test_pvh_type_and_no_hvm_devices() -> None:
    cfg = _kv(xl_config(make_policy(), "EB-domu-2"))
    assert cfg["type"] == '"pvh"'
    assert "serial" not in cfg and "xen_platform_pci" not in cfg
    assert cfg["vif"] == "[ 'mac=00:16:3e:0b:00:02,bridge=EBnat' ]"


def test_driver_domain_gets_its_tagged_controller() -> None:
    cfg = _kv(xl_config(make_policy(), "EA-net"))
    assert cfg["driver_domain"] == "1"
    assert cfg["pci"] == "[ '0000:06:00.0' ]"


def test_domain_without_seclabel_is_refused() -> None:
    policy = _with_domain(seclabel=None)
    with pytest.raises(GeneratorError) as err:
        xl_config(policy, "EA-domu-1")
    assert err.value.code == "policy.generator.no-seclabel"


def test_unknown_domain_is_a_lookup_error() -> None:
    with pytest.raises(PolicyLookupError):
        xl_config(make_policy(), "nope")


@pytest.mark.parametrize(
    "key",
    [
        "seclabel",
        "init_seclabel",
        "type",
        "builder",
        "pci",
        "device_model_override",
        "device_model_args_hvm",
        "vnclisten",
        "vncpasswd",
        "on_crash",
        "on_reboot",
        "driver_domain",
        "uuid",
        "name",
        "vif",
        "disk",
        "cpuid",
        "xsm_label",
        "usbdev",
        "bootloader",
    ],
)
def test_security_relevant_extra_keys_are_refused(key: str) -> None:
    policy = _with_domain(extra=((key, '"x"'),))
    with pytest.raises(GeneratorError) as err:
        xl_config(policy, "EA-domu-1")
    assert err.value.code == "policy.generator.forbidden-option"
    assert repr(key) in str(err.value)


def test_extra_key_that_is_already_generated_is_refused() -> None:
    with pytest.raises(GeneratorError, match="'memory' is generated"):
        check_extra_option("memory", "4096", frozenset({"memory"}))


@pytest.mark.parametrize(
    "value",
    [
        '"unterminated',
        "bare words",
        '"a"; kernel="/evil"',
        "1\nkernel = 2",
        "[1, 2",
        "['a' 'b']",
        "[,]",
        '"back\\slash"',
        "",
    ],
)
def test_bad_extra_values_are_refused(value: str) -> None:
    with pytest.raises(GeneratorError) as err:
        check_extra_option("nestedhvm", value)
    assert err.value.code == "policy.generator.bad-option"


@pytest.mark.parametrize(
    "value", ["1", "0x1f", "-3", "2.5", '"x y"', "'a'", "[]", "[ 'a', \"b\", 3 ]", "['a',]"]
)
def test_good_extra_values_are_accepted(value: str) -> None:
    check_extra_option("nestedhvm", value)


def test_bad_extra_key_syntax_is_refused() -> None:
    for key in ("1abc", "a-b", "a b", "k\n"):
        with pytest.raises(GeneratorError, match="not a valid xl key"):
            check_extra_option(key, "1")


def test_forbidden_table_covers_the_brief() -> None:
    needed = {
        "seclabel",
        "init_seclabel",
        "type",
        "builder",
        "pci",
        "vnclisten",
        "vncpasswd",
        "driver_domain",
        "uuid",
        "name",
        "vif",
        "disk",
        "cpuid",
    }
    assert needed <= FORBIDDEN_EXTRA_KEYS


def test_names_with_quotes_or_newlines_never_reach_the_file() -> None:
    policy = _with_domain(cmdline='root=/dev/xvda1"\nseclabel = "other')
    with pytest.raises(GeneratorError) as err:
        xl_config(policy, "EA-domu-1")
    assert err.value.code == "policy.generator.unsafe-value"


def test_every_guest_type_renders_parseable_lines() -> None:
    policy = make_policy()
    line = re.compile(r"^(#.*|[a-z_]+ = (\d+|\"[^\"\n]*\"|\[ .* \]))$")
    for dom in policy.domains:
        text = xl_config(policy, dom.name, vnc_password="pw")
        for row in text.splitlines():
            assert line.match(row), row


def test_resource_limits_may_only_be_lowered() -> None:
    check_extra_option("max_grant_frames", "32")
    check_extra_option("max_event_channels", "1023")
    for key, value in (
        ("max_grant_frames", "65"),
        ("max_grant_frames", "0"),
        ("max_maptrack_frames", '"9"'),
        ("max_event_channels", "100000"),
    ):
        with pytest.raises(GeneratorError) as err:
            check_extra_option(key, value)
        assert err.value.code == "policy.generator.forbidden-option"
        assert key in str(err.value)


def test_sample_policy_renders_for_every_domain() -> None:
    from xps.policy import sample_policy

    policy = sample_policy()
    for dom in policy.domains:
        cfg = _kv(xl_config(policy, dom.name, vnc_password="pw"))
        assert cfg["name"] == f'"{dom.name}"'
        assert cfg["on_crash"] == '"destroy"'


def test_passed_through_devices_are_listed() -> None:
    policy = _with_domain(name="EA-net", pci=("0000:05:00.0",))
    cfg = _kv(xl_config(policy, "EA-net"))
    assert cfg["pci"] == "[ '0000:05:00.0', '0000:06:00.0' ]"
