"""The XPS daemon: TLS 1.3 listeners, authorization, dispatch, events and configuration."""

from xps.server._auth import Authorizer, Decision, is_loopback
from xps.server._config import (
    DEFAULT_LISTEN,
    DEFAULT_PROPERTIES,
    DEFAULT_RO_LISTEN,
    DEFAULTS,
    ServerConfig,
    load_config,
    parse_address,
)
from xps.server._daemon import PORTS_FILE, EventSource, XpsServer
from xps.server._errors import ConfigError, ListenError, ServerError
from xps.server._handlers import HOST_METHODS, Handler, HostApi, host_handlers
from xps.server._hub import EventHub, Subscriber
from xps.server._logging import (
    LOG_NAME,
    TRACE,
    BurstLog,
    escape,
    flush_logs,
    lean_log_records,
    remove_logging,
    setup_logging,
)
from xps.server._properties import parse_define, parse_properties
from xps.server._run import run_daemon

__all__ = [
    "DEFAULTS",
    "DEFAULT_LISTEN",
    "DEFAULT_PROPERTIES",
    "DEFAULT_RO_LISTEN",
    "HOST_METHODS",
    "LOG_NAME",
    "PORTS_FILE",
    "TRACE",
    "Authorizer",
    "BurstLog",
    "ConfigError",
    "Decision",
    "EventHub",
    "EventSource",
    "Handler",
    "HostApi",
    "ListenError",
    "ServerConfig",
    "ServerError",
    "Subscriber",
    "XpsServer",
    "escape",
    "flush_logs",
    "host_handlers",
    "is_loopback",
    "lean_log_records",
    "load_config",
    "parse_address",
    "parse_define",
    "parse_properties",
    "remove_logging",
    "run_daemon",
    "setup_logging",
]
