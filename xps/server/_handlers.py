"""The {method: handler} table that binds protocol methods to the host facade."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

#: A handler receives the validated params as keyword arguments.
Handler = Callable[..., Awaitable[dict[str, Any]]]

#: Protocol method -> name of the Host coroutine method it calls (params pass through).
HOST_METHODS: Mapping[str, str] = {
    "GetHypervisorInfo": "hypervisor_info",
    "GetDomainRunStates": "domain_run_states",
    "GetLogMsgs": "log_msgs",
    "GetHardware": "hardware",
    "GetPolicy": "get_policy",
    "StagePolicy": "stage_policy",
    "GetStagedDiff": "staged_diff",
    "ActivatePolicy": "activate_policy",
    "RollbackPolicy": "rollback_policy",
    "ExportPolicy": "export_policy",
    "CreateDomain": "create_domain",
    "PauseDomain": "pause_domain",
    "UnpauseDomain": "unpause_domain",
    "ShutdownDomain": "shutdown_domain",
    "RebootDomain": "reboot_domain",
    "DestroyDomain": "destroy_domain",
    "GetVncInfo": "vnc_info",
    "GetVncCredentials": "vnc_credentials",
    "GetStats": "stats",
    "GetStatsHistory": "stats_history",
    "GetViolations": "violations",
    "AddressViolations": "address_violations",
    "SetMisbehaviour": "set_misbehaviour",
    "MigrateOut": "migrate_out",
    "MigrateOutRead": "migrate_out_read",
    "MigrateOutDirty": "migrate_out_dirty",
    "MigrateOutFinish": "migrate_out_finish",
    "MigrateIn": "migrate_in",
    "MigrateInWrite": "migrate_in_write",
    "MigrateInFinish": "migrate_in_finish",
}


def host_handlers(host: object) -> dict[str, Handler]:
    """Builds the handler table for a ``xps.host.Host`` (or any object with its methods).

    Methods the object lacks are left out (the server answers ``unknown_method``).
    """
    table: dict[str, Handler] = {}
    for method, attr in HOST_METHODS.items():
        func = getattr(host, attr, None)
        if callable(func):
            table[method] = func
    return table
