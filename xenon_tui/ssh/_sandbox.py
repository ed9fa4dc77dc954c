"""Landlock for console processes: a console reads only what it needs.

A console runs as the SSH server's Unix user, which also owns the host key, the session
logs and the read-write client key. Its file dialogs take paths from the user. Right after
the fork, before any user input, each console process restricts itself (Linux Landlock,
unprivileged; the restriction holds for the process, its threads and anything it would
ever start) to:

- reading (and mapping) Python's library directories, the code it runs, the system
  libraries and shared data (``/usr/lib``, ``/usr/share`` …), and the few ``/etc`` files a
  Python process reads (resolver, time zone, users, TLS trust) — not ``/etc`` as a whole,
  where deployments keep keys;
- reading the TLS files of its own role, and writing to the session log;
- reading and writing its user's files directory (its ``HOME``, where dialogs start);
- for a read-only session, TCP connections to the port numbers of its read-only sockets
  only (Landlock ABI 4 and later; a rule names a port, not a host);
- no signals to, and no abstract sockets of, processes outside the sandbox (ABI 6).

Everything else in the file system is refused by the kernel, whatever the console does.
The kernel ABI is called through ``ctypes`` (it is three system calls and two structs).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# System calls, the same number on every architecture (added after the table unification).
_SYS_CREATE_RULESET = 444
_SYS_ADD_RULE = 445
_SYS_RESTRICT_SELF = 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2
_PR_SET_NO_NEW_PRIVS = 38

# File-system access rights (uapi/linux/landlock.h).
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE
# Network rights (ABI 4) and scopes (ABI 6).
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
_SCOPE_SIGNAL = 1 << 1

READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE
READ_WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | REFER | TRUNCATE
# System directories a Python process reads code or data from.
SYSTEM_DIRS = ("/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/share", "/lib", "/lib64")
# The /etc entries it reads: loader, resolver, time zone, users, TLS trust stores. A rule
# on a symbolic link is a rule on its target (resolv.conf often points into /run).
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/timezone", "/etc/hosts", "/etc/host.conf", "/etc/resolv.conf",
    "/etc/nsswitch.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols",
    "/etc/passwd", "/etc/group", "/etc/ssl", "/etc/pki/tls", "/etc/ca-certificates",
)  # fmt: skip
# Devices a console may open again by name.
DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/tty")


class SandboxError(Exception):
    """The sandbox could not be set up (the message says why)."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


class _NetPortAttr(ctypes.Structure):
    _fields_ = (("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64))


@dataclass
class Rules:
    """What a sandboxed process may still reach.

    Attributes:
        paths: Path -> access rights beneath it (a file gets only its file rights).
        connect_ports: TCP ports it may connect to; ``None`` leaves the network alone.
    """

    paths: dict[str, int] = field(default_factory=dict)
    connect_ports: frozenset[int] | None = None

    def allow(self, path: str | os.PathLike[str], access: int) -> None:
        """Adds ``access`` beneath ``path`` (merged with what is already allowed)."""
        key = os.path.realpath(path)
        self.paths[key] = self.paths.get(key, 0) | access


_libc_handle: list[ctypes.CDLL] = []


def _libc() -> ctypes.CDLL:
    if not _libc_handle:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        _libc_handle.append(libc)
    return _libc_handle[0]


def _syscall(number: int, *args: object, what: str) -> int:
    """One Landlock system call; a failure raises SandboxError naming ``what``."""
    result = int(_libc().syscall(ctypes.c_long(number), *args))
    if result < 0:
        raise SandboxError(f"{what}: {os.strerror(ctypes.get_errno())}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is missing or turned off."""
    version = _libc().syscall(
        ctypes.c_long(_SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
        ctypes.c_uint32(_CREATE_RULESET_VERSION),
    )  # fmt: skip
    return max(0, int(version))


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    return rights


def restrict(rules: Rules, abi: int | None = None) -> int:
    """Restricts this process (and threads it starts later) to ``rules``.

    Returns:
        The ABI version used.

    Raises:
        SandboxError: Landlock is unavailable or a rule was refused.
    """
    abi = abi_version() if abi is None else abi
    if abi < 1:
        raise SandboxError("Landlock is not available in this kernel")
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled_access_fs=handled)
    size = 8  # the struct grew with the ABI: pass only the fields this kernel knows
    if abi >= 4 and rules.connect_ports is not None:
        attr.handled_access_net = _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = _syscall(
        _SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0),
        what="landlock_create_ruleset",
    )  # fmt: skip
    try:
        for path, access in sorted(rules.paths.items()):
            _add_path(ruleset, path, access & handled)
        if attr.handled_access_net:
            for port in sorted(rules.connect_ports or ()):
                _add_port(ruleset, port)
        if _libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxError(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
        _syscall(
            _SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0),
            what="landlock_restrict_self",
        )  # fmt: skip
    finally:
        os.close(ruleset)
    return abi


def _add_rule(ruleset: int, kind: int, rule: ctypes.Structure, what: str) -> None:
    _syscall(
        _SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(kind), ctypes.byref(rule),
        ctypes.c_uint32(0), what=what,
    )  # fmt: skip


def _add_path(ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow
    except OSError as exc:
        raise SandboxError(f"cannot open {path} for a rule: {exc.strerror}") from exc
    try:
        if not os.path.isdir(path):
            access &= _FILE_ONLY  # the kernel refuses directory rights on a file
        if access:
            rule = _PathBeneathAttr(allowed_access=access, parent_fd=fd)
            _add_rule(ruleset, _RULE_PATH_BENEATH, rule, f"rule for {path}")
    finally:
        os.close(fd)


def _add_port(ruleset: int, port: int) -> None:
    if not 0 < port <= 65535:
        raise SandboxError(f"port out of range: {port}")
    rule = _NetPortAttr(allowed_access=_NET_CONNECT_TCP, port=port)
    _add_rule(ruleset, _RULE_NET_PORT, rule, f"rule for port {port}")


def _importable(item: os.DirEntry[str]) -> bool:
    if item.is_dir():
        return os.path.exists(os.path.join(item.path, "__init__.py"))
    return item.is_file() and item.name.endswith((".py", ".so"))


def code_dirs() -> set[str]:
    """Where code may still be loaded from: Python's library directories (the standard
    library and site-packages, not the whole prefix), every importable package or module
    in the other ``sys.path`` directories (not the directories themselves: a checkout may
    hold keys beside its packages), and the top-level package of every module already
    loaded from elsewhere."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    libraries = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    libraries += site.getsitepackages()
    prefixes = {os.path.realpath(p) for p in libraries if os.path.isdir(p)}
    found = set(prefixes)

    def outside(path: str) -> bool:
        return not any(path == p or path.startswith(p + os.sep) for p in prefixes)

    for entry in sys.path:
        real = os.path.realpath(entry or ".")
        if not os.path.isdir(real) or not outside(real):
            continue
        with contextlib.suppress(OSError), os.scandir(real) as items:
            found.update(item.path for item in items if _importable(item))
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if not isinstance(origin, str) or not outside(os.path.realpath(origin)):
            continue
        root = sys.modules.get(module.__name__.partition(".")[0])
        package_paths = getattr(root, "__path__", None)
        if package_paths:
            found.update(os.path.realpath(p) for p in package_paths)
        else:
            found.add(os.path.realpath(origin))
    return found


_base_paths: dict[str, int] | None = None


def base_paths() -> dict[str, int]:
    """The rules every console shares: system directories, code, devices."""
    rules = Rules()
    for path in (*SYSTEM_DIRS, *code_dirs()):
        rules.allow(path, READ_EXEC)
    for path in ETC_FILES:
        rules.allow(path, READ)
    for device in DEVICES:
        rules.allow(device, READ_FILE | WRITE_FILE)
    return rules.paths


def prepare() -> None:
    """Works out the shared rules once, in the zygote before it forks: walking every
    loaded module in each console would copy megabytes of the zygote's pages."""
    global _base_paths
    _base_paths = base_paths()
    abi_version()  # loads libc's handle here too


def features(abi: int) -> str:
    """What the sandbox enforces with this ABI, for the server's log."""
    parts = ["files"]
    parts.append("read-only ports" if abi >= 4 else "no port rules (ABI < 4)")
    parts.append("signal scoping" if abi >= 6 else "no signal scoping (ABI < 6)")
    return ", ".join(parts)


def exposed(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Those of ``paths`` that the rules every console shares would let it read (a state
    directory or key placed under a library directory, say)."""
    shared = _base_paths if _base_paths is not None else base_paths()
    found = []
    for path in paths:
        real = os.path.realpath(path)
        if any(real == rule or real.startswith(rule.rstrip(os.sep) + os.sep) for rule in shared):
            found.append(str(path))
    return found


def console_rules(
    *,
    home: str | None,
    log_path: str,
    tls_files: Iterable[str],
    connect_ports: Iterable[int] | None,
    extra_code: Iterable[str] = (),
) -> Rules:
    """The rules of one console process (see the module docstring)."""
    rules = Rules(connect_ports=None if connect_ports is None else frozenset(connect_ports))
    rules.paths.update(_base_paths if _base_paths is not None else base_paths())
    for path in extra_code:
        rules.allow(path, READ_EXEC)
    for path in tls_files:
        rules.allow(path, READ_FILE)
    rules.allow(log_path, WRITE_FILE)
    if home:
        rules.allow(home, READ_WRITE)
    return rules


def module_paths(names: Iterable[str]) -> list[str]:
    """Directories of modules named by ``names`` that are not imported yet (for rules)."""
    import importlib.util

    found = []
    for name in names:
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(name.partition(".")[0])
            if spec is not None:
                found.extend(spec.submodule_search_locations or [])
                if spec.origin and not spec.submodule_search_locations:
                    found.append(str(Path(spec.origin)))
    return found
