"""The project's error root and the bases shared by the package trees: one meaning, one name.

::

    XenonError(Exception)  -  the root of every package's tree (each has ``code``, ``message``)
    ├── NotFound           -  the named object does not exist
    ├── InvalidArgument    -  a value given by the caller is malformed or out of range
    ├── NotSupported       -  this backend or configuration does not offer the operation
    ├── Conflict           -  refused because it clashes with existing state (a name in
    │                         use, a no-coresidence conflict set)
    ├── ConfigError        -  a configuration file, flag or value is invalid
    ├── ListenError        -  a listening socket could not be bound
    ├── ServerError        -  an XPS daemon could not do its job: it could not start, or (seen
    │                         from a console) it refused a request or could not be reached
    └── HostError          -  a host's XPS refused or failed a request

A package keeps its own root (``HostError``, ``MsmError``, ``XeError``, ``ConsoleError`` …)
and its own ``code`` on the wire; where its class means one of the above it subclasses the
shared base as well, e.g. ``xps.host.NotFound(HostError, xps.errors.NotFound, LookupError)``,
so ``except xps.errors.NotFound`` holds for a missing domain, MSM object, policy object or XE
object alike, and ``except`` clauses written against either name keep working. The shared
bases define no constructor and no ``code``: subclassing one changes nothing but ``except``.
The drawing of each ``_errors.py`` is checked against the classes by
``tests/tooling/test_error_trees.py``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Conflict",
    "HostError",
    "InvalidArgument",
    "ListenError",
    "NotFound",
    "NotSupported",
    "ServerError",
    "XenonError",
]


class XenonError(Exception):
    """Root of every package's error tree.

    Attributes:
        code: The package's stable machine-readable code for the error.
        message: The human-readable explanation (safe to show).
    """

    code: str
    message: str


class NotFound(XenonError):
    """The named object (domain, MSM object, policy object, XE object) does not exist."""


class InvalidArgument(XenonError):
    """A value given by the caller is malformed or out of range."""


class NotSupported(XenonError):
    """The backend or the configuration does not offer this operation."""


class Conflict(XenonError):
    """Refused because the request clashes with existing state."""


class ConfigError(XenonError):
    """A configuration file, a flag or a configured value is invalid."""


class ListenError(XenonError):
    """A listening socket could not be bound."""


class ServerError(XenonError):
    """An XPS daemon could not do its job (start, or answer a console's request)."""


class HostError(XenonError):
    """A host's XPS refused or failed a request."""
