"""One error tree per package, each drawn in its ``_errors.py`` docstring, each name defined once.

The drawings are parsed, so a class added, moved or re-coded without its drawing fails here:

    Name(extra, bases)    code    description (continued on lines without a connector)

``Name`` hangs under its drawn parent (a real base); the parenthesised list names the other
bases (``errors.X`` for :mod:`xps.errors`, else a builtin); ``code`` is the class's ``code``
(``-`` when it has none). Private bases (``_Coded``) are transparent.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

from xps import errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("native", "xps", "enterprise_store", "xenon_tui")

#: Every module whose docstring draws a tree.
DRAWN = (
    "xps.errors",
    "xps.client._errors",
    "xps.host._errors",
    "xps.msm._errors",
    "xps.pki._errors",
    "xps.policy._errors",
    "xps.policy.generators._errors",
    "xps.protocol._errors",
    "xps.server._errors",
    "enterprise_store._errors",
    "enterprise_store.client._errors",
    "xenon_tui._errors",
    "xenon_tui.ssh._errors",
)

_NODE = re.compile(r"^(?P<lead>(?:│   |    )*)(?P<conn>├── |└── )(?P<rest>\S.*)$")
_ENTRY = re.compile(r"^(?P<name>[A-Za-z_]\w*)(?:\((?P<extras>[^)]*)\))?(?:\s+(?P<code>\S+))?")


@dataclass
class Node:
    name: str
    extras: tuple[str, ...]
    code: str | None
    depth: int
    last: bool
    parent: Node | None


def parse_drawing(doc: str) -> list[Node]:
    """The nodes of the first ``::`` block of ``doc``, in drawing order."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block: list[str] = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
    nodes: list[Node] = []
    stack: list[Node] = []
    continuations: list[tuple[Node, str]] = []
    for raw in block:
        line = raw[indent:].rstrip()
        if not line:
            continue
        node_match = _NODE.match(line)
        if node_match is None and line[0] not in " │":
            depth, last, rest, lead = 0, True, line, ""
        elif node_match is not None:
            depth = len(node_match["lead"]) // 4 + 1
            last = node_match["conn"] == "└── "
            rest, lead = node_match["rest"], node_match["lead"]
        else:
            assert nodes, f"a continuation line before any class: {line!r}"
            # The first word is the code when the class's line had none.
            if nodes[-1].code is None:
                nodes[-1].code = line.replace("│", " ").split()[0]
            continuations.append((nodes[-1], line))
            continue
        entry = _ENTRY.match(rest)
        assert entry is not None, f"cannot read the drawing line {line!r}"
        extras = tuple(e.strip() for e in (entry["extras"] or "").split(",") if e.strip())
        del stack[depth:]
        assert len(stack) == depth, f"{entry['name']} is drawn below no parent"
        node = Node(entry["name"], extras, entry["code"], depth, last, stack[-1] if stack else None)
        # The bars before the connector: one per ancestor level whose branch goes on.
        assert _bars(lead) == _open(node.parent), f"the bars of {line!r}"
        nodes.append(node)
        stack.append(node)
    children: dict[int, list[Node]] = defaultdict(list)
    for node in nodes:
        if node.parent is not None:
            children[id(node.parent)].append(node)
    for siblings in children.values():
        assert [n.last for n in siblings] == [False] * (len(siblings) - 1) + [True], (
            f"connectors of {[n.name for n in siblings]}: only the last sibling has └──"
        )
    for node, line in continuations:
        # Text under a class: its ancestors' bars, then a bar if the class has children.
        want = [*_open(node), bool(children[id(node)])]
        lead = line[: len(line) - len(line.lstrip(" │"))]
        got = _bars(lead[: 4 * len(want)].ljust(4 * len(want)))
        assert got == want, f"the bars of {line!r}"
    assert [n.depth for n in nodes].count(0) >= 1, "no root"
    return nodes


def _bars(lead: str) -> list[bool]:
    return [lead[i] == "│" for i in range(0, len(lead), 4)]


def _open(node: Node | None) -> list[bool]:
    """For each level from 1 to ``node``'s depth: does a later sibling still hang there?"""
    chain: list[bool] = []
    while node is not None and node.parent is not None:
        chain.append(not node.last)
        node = node.parent
    return chain[::-1]


def skip_module(name: str) -> bool:
    return name.rsplit(".", 1)[-1] == "__main__"


@cache
def modules_of(package: str) -> tuple[ModuleType, ...]:
    pkg = importlib.import_module(package)
    found = [pkg]
    if hasattr(pkg, "__path__"):
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            if not skip_module(info.name):
                found.append(importlib.import_module(info.name))
    return tuple(found)


def defined_in(module: ModuleType) -> list[type[BaseException]]:
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
    ]


@cache
def project_exceptions() -> tuple[type[BaseException], ...]:
    return tuple(c for p in PACKAGES for m in modules_of(p) for c in defined_in(m))


def effective_bases(cls: type) -> list[type]:
    """``cls``'s bases with private ones (``_Coded``) replaced by their own bases."""
    out: list[type] = []
    for base in cls.__bases__:
        for b in effective_bases(base) if base.__name__.startswith("_") else [base]:
            if b not in out:
                out.append(b)
    return out


def resolve_extra(name: str) -> type:
    if name.startswith("errors."):
        return getattr(errors, name.removeprefix("errors."))  # type: ignore[no-any-return]
    module, _, attr = name.rpartition(".")
    value = getattr(importlib.import_module(module) if module else builtins, attr)
    assert isinstance(value, type), name
    return value


def package_of(module_name: str) -> str:
    return module_name.rsplit(".", 1)[0]


def own_modules(module_name: str) -> list[ModuleType]:
    """The modules of the tree's package, less subpackages that draw their own tree."""
    package = package_of(module_name)
    others = [package_of(m) + "." for m in DRAWN if package_of(m) != package]
    return [
        m
        for m in modules_of(package.split(".")[0])
        if (m.__name__ == package or m.__name__.startswith(package + "."))
        and not any(m.__name__.startswith(o) and not package.startswith(o) for o in others)
    ]


def resolve(module_name: str, name: str) -> type[BaseException]:
    module = importlib.import_module(module_name)
    obj = getattr(module, name, None)
    package = package_of(module_name)
    while obj is None:
        # Drawn but defined elsewhere: the one class of that name in the package, else in
        # the enclosing package (a subpackage may draw its parent's classes).
        candidates = {
            c
            for m in modules_of(package.split(".")[0])
            if m.__name__ == package or m.__name__.startswith(package + ".")
            for c in defined_in(m)
            if c.__name__ == name
        }
        assert len(candidates) <= 1, f"{module_name} draws {name}: which of {candidates}?"
        if candidates:
            obj = candidates.pop()
        else:
            assert "." in package, f"{module_name} draws {name}: no such class"
            package = package_of(package)
    assert inspect.isclass(obj) and issubclass(obj, BaseException), f"{name} is no exception"
    return obj


def test_every_errors_module_with_classes_draws_its_tree() -> None:
    paths = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("_errors.py"))
    assert paths, "no _errors.py found"
    for path in paths:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        if defined_in(importlib.import_module(name)):
            assert name in DRAWN, f"{name} defines exceptions but its tree is not checked here"


@pytest.mark.parametrize("module_name", DRAWN)
def test_drawing_matches_the_classes(module_name: str) -> None:
    module = importlib.import_module(module_name)
    nodes = parse_drawing(module.__doc__ or "")
    assert nodes, f"{module_name}: no drawing"
    drawn: dict[str, type[BaseException]] = {}
    for node in nodes:
        cls = resolve(module_name, node.name)
        assert node.name not in drawn, f"{module_name}: {node.name} drawn twice"
        drawn[node.name] = cls
        want = ([drawn[node.parent.name]] if node.parent else []) + [
            resolve_extra(e) for e in node.extras
        ]
        assert set(effective_bases(cls)) == set(want), (
            f"{module_name}: {node.name} has bases {effective_bases(cls)}, drawn as {want}"
        )
        code = getattr(cls, "code", None)
        assert (code if isinstance(code, str) else "-") == node.code, (
            f"{module_name}: {node.name}.code is {code!r}, drawn as {node.code!r}"
        )
    roots = tuple(drawn[n.name] for n in nodes if n.parent is None)
    # Every exception class of the module, and every one of the package under the drawn
    # root(s), is in the drawing.
    for cls in defined_in(module):
        assert cls.__name__ in drawn or cls.__name__.startswith("_"), (
            f"{module_name}: {cls.__name__} is not drawn"
        )
    for mod in own_modules(module_name):
        for cls in defined_in(mod):
            if issubclass(cls, roots) and not cls.__name__.startswith("_"):
                assert drawn.get(cls.__name__) is cls, (
                    f"{module_name}: {cls.__module__}.{cls.__name__} is not drawn"
                )


@pytest.mark.parametrize("module_name", DRAWN)
def test_public_exceptions_reach_the_package_root(module_name: str) -> None:
    module = importlib.import_module(module_name)
    package = importlib.import_module(package_of(module_name))
    roots = tuple(
        resolve(module_name, n.name)
        for n in parse_drawing(module.__doc__ or "")
        if n.parent is None
    )
    exported = getattr(package, "__all__", None) or []
    if module_name == "xps.errors":
        exported = module.__all__
    for name in exported:
        obj = getattr(package if module_name != "xps.errors" else module, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, roots), f"{package.__name__}.{name} is not under {roots}"


def test_no_two_exception_classes_share_a_name_unless_related() -> None:
    by_name: dict[str, list[type[BaseException]]] = defaultdict(list)
    for cls in project_exceptions():
        if not cls.__name__.startswith("_"):
            by_name[cls.__name__].append(cls)
    clashes = []
    for name, classes in by_name.items():
        shared = getattr(errors, name, None)
        for i, a in enumerate(classes):
            for b in classes[i + 1 :]:
                related = issubclass(a, b) or issubclass(b, a)
                both_shared = shared is not None and issubclass(a, shared) and issubclass(b, shared)
                if not (related or both_shared):
                    clashes.append(f"{a.__module__}.{name} / {b.__module__}.{name}")
    assert not clashes, f"same name, unrelated classes: {clashes}"


def test_shared_bases_change_nothing_but_except() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert (
            "__init__" not in vars(cls) and "code" not in vars(cls) and "__str__" not in vars(cls)
        )
        assert effective_bases(cls) == (
            [errors.XenonError] if cls is not errors.XenonError else [Exception]
        )


def test_one_except_holds_for_every_package() -> None:
    from enterprise_store import _errors as xe
    from xenon_tui import _errors as console
    from xenon_tui.ssh import _errors as ssh
    from xps import host, msm, policy, server

    missing = [
        host.NotFound("no domain 'web'"),
        msm.NotFound("nope", status=msm.Status.ENOENT),
        policy.PolicyLookupError("no tag 'x'"),
        xe.NotFound("no host 'h1'"),
    ]
    for exc in missing:
        with pytest.raises(errors.NotFound):
            raise exc
    # The old names still catch, and codes and messages are the packages' own.
    assert isinstance(missing[0], LookupError) and missing[0].code == "not_found"
    assert missing[1].code == "MSM_ENOENT" and missing[1].message == "nope"
    assert str(missing[3]) == "not_found: no host 'h1'"
    configs = [
        server.ConfigError("bad -D"),
        console.ConfigError("bad file"),
        ssh.ConfigError("bad users file"),
    ]
    for config in configs:
        with pytest.raises(errors.ConfigError):
            raise config
        assert config.code == "config_invalid"
    assert str(console.ServerError("h1", "refused")) == "refused"
    assert isinstance(console.ServerError("h1", "refused"), errors.ServerError)
    assert not isinstance(server.ConfigError("x"), console.ConsoleError)
    assert not isinstance(xe.InvalidInput("x"), ValueError)


def test_boundary_translations_keep_the_shared_meaning() -> None:
    """The host maps MSM errors to its own tree: a shared meaning is not lost on the way."""
    from xps.host._convert import _MSM_TO_HOST

    shared = [getattr(errors, n) for n in errors.__all__ if n != "XenonError"]
    for msm_type, host_type in _MSM_TO_HOST:
        for base in shared:
            if issubclass(msm_type, base):
                assert issubclass(host_type, base), (
                    f"msm.{msm_type.__name__} is an errors.{base.__name__}, "
                    f"host.{host_type.__name__} it is mapped to is not"
                )
