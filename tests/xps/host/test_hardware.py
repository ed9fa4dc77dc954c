"""Hardware discovery against fixture /sys and /proc trees and this machine's own."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from xps.host import discover_hardware, discover_nics
from xps.policy import DeviceKind, DiskKind

FIXTURE = Path(__file__).parent / "fixtures" / "host1"


def test_fixture_cpus_and_memory() -> None:
    hw = discover_hardware(FIXTURE)
    assert [c.index for c in hw.cpus] == [0, 1, 2, 3]
    cpu = hw.cpus[0]
    assert cpu.model == "Intel(R) Xeon(R) CPU E3-1240 v5 @ 3.50GHz"
    assert cpu.vendor == "GenuineIntel"
    assert (cpu.family, cpu.stepping, cpu.mhz) == (6, 3, 3500)
    assert "vmx" in cpu.flags and "ept" in cpu.flags
    assert hw.memory.total_kb == 32768000


def test_fixture_pci_names_from_pci_ids() -> None:
    hw = discover_hardware(FIXTURE)
    by_bdf = {d.bdf: d for d in hw.pci}
    assert sorted(by_bdf) == [
        "0000:00:00.0",
        "0000:00:14.0",
        "0000:00:17.0",
        "0000:00:1c.0",
        "0000:00:1f.6",
        "0000:03:00.0",
    ]
    nic = by_bdf["0000:03:00.0"]
    assert (nic.class_code, nic.vendor, nic.device) == (0x020000, 0x10EC, 0x8168)
    assert nic.vendor_name == "Realtek Semiconductor Co., Ltd."
    assert nic.device_name.startswith("RTL8111/8168")
    assert nic.class_name == "Ethernet controller"
    assert nic.kind is DeviceKind.NETWORK
    assert by_bdf["0000:00:17.0"].kind is DeviceKind.STORAGE
    assert by_bdf["0000:00:17.0"].class_name == "SATA controller"
    assert by_bdf["0000:00:14.0"].kind is DeviceKind.USB
    assert by_bdf["0000:00:1c.0"].kind is DeviceKind.OTHER
    assert all(d.tag is None for d in hw.pci)


def test_fixture_without_pci_ids_uses_builtin_class_table(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root, symlinks=True)
    (root / "usr/share/misc/pci.ids").unlink()
    hw = discover_hardware(root)
    by_bdf = {d.bdf: d for d in hw.pci}
    assert by_bdf["0000:00:1f.6"].class_name == "Ethernet controller"
    assert by_bdf["0000:00:1f.6"].vendor_name == ""
    assert by_bdf["0000:00:14.0"].class_name == "USB controller"
    assert by_bdf["0000:00:00.0"].class_name == "Host bridge"


def test_fixture_nics_have_pci_parents() -> None:
    nics = {n.name: n for n in discover_nics(FIXTURE)}
    assert nics["eth0"].pci == "0000:00:1f.6"
    assert nics["eth1"].pci == "0000:03:00.0"  # behind the 0000:00:1c.0 bridge
    assert nics["eth0"].mac == "00:1b:21:aa:bb:01"
    assert nics["lo"].pci is None and nics["lo"].virtual


def test_fixture_block_devices() -> None:
    disks = {d.name: d for d in discover_hardware(FIXTURE).disks}
    assert set(disks) == {"sda", "sda1", "sda2", "vg0-xenon--EA"}  # loop0 (size 0) skipped
    assert disks["sda"].kind is DiskKind.DISK
    assert disks["sda"].size_bytes == 976773168 * 512
    assert disks["sda1"].kind is DiskKind.PARTITION and disks["sda1"].path == "/dev/sda1"
    vol = disks["vg0-xenon--EA"]
    assert vol.kind is DiskKind.VOLUME and vol.path == "/dev/mapper/vg0-xenon--EA"
    assert vol.size_bytes == 209715200 * 512


def test_fixture_usb_and_input() -> None:
    hw = discover_hardware(FIXTURE)
    usb = {(u.bus, u.dev): u for u in hw.usb}
    assert sorted(usb) == [(1, 1), (1, 2), (1, 3)]  # the 1-1:1.0 interface is not a device
    assert (usb[(1, 2)].vendor, usb[(1, 2)].product) == (0x046D, 0xC31C)
    assert usb[(1, 2)].name == "Logitech USB Keyboard"
    names = {i.name: i.path for i in hw.input}
    assert names == {
        "Power Button": "/dev/input/event0",
        "Logitech USB Keyboard": "/dev/input/event1",
        "Logitech USB Optical Mouse": "/dev/input/event2",
    }  # "PC Speaker" has no event handler


def test_empty_root_gives_empty_inventory(tmp_path: Path) -> None:
    hw = discover_hardware(tmp_path)
    assert hw.cpus == () and hw.pci == () and hw.disks == () and hw.memory.total_kb == 0
    assert discover_nics(tmp_path) == ()


def test_this_machine() -> None:
    hw = discover_hardware(Path("/"))
    assert len(hw.cpus) == os.cpu_count()
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    assert hw.memory.total_kb == total
    real_pci = (
        sorted(p for p in os.listdir("/sys/bus/pci/devices"))
        if os.path.isdir("/sys/bus/pci/devices")
        else []
    )
    assert [d.bdf for d in hw.pci] == real_pci
    nics = {n.name for n in discover_nics(Path("/"))}
    assert nics == set(os.listdir("/sys/class/net"))
