"""The typed handler table: every host method of the protocol, with the protocol's params."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

from xps.host import Host, HostConfig
from xps.protocol import METHODS, RESULTS
from xps.server import HOST_METHODS, host_handlers

# Served by the daemon itself, not by the host.
BUILT_IN = {
    "Ping",
    "Subscribe",
    "Unsubscribe",
    "ListAuthorizations",
    "AddAuthorization",
    "RemoveAuthorization",
}


def test_the_table_and_the_daemon_serve_every_method_once() -> None:
    assert set(HOST_METHODS) | BUILT_IN == set(METHODS)
    assert not set(HOST_METHODS) & BUILT_IN


def test_each_host_method_takes_the_protocol_params_and_returns_the_protocol_shape() -> None:
    for method, func in HOST_METHODS.items():
        params = list(inspect.signature(func).parameters)[1:]  # after self
        assert params == list(METHODS[method].params), method
        assert typing.get_type_hints(func)["return"] is RESULTS[method], method
        host_func = getattr(Host, func.__name__)
        # The Host may take more (defaulted) parameters, never fewer or renamed ones.
        assert list(inspect.signature(host_func).parameters)[1 : len(params) + 1] == params


async def test_a_real_host_gets_every_handler_bound(tmp_path: Path) -> None:
    host = await Host.open(HostConfig(state_dir=tmp_path / "s", backend="sim"))
    try:
        table = host_handlers(host)
        assert set(table) == set(HOST_METHODS)
        assert all(getattr(h, "__self__", None) is host for h in table.values())
        assert (await table["GetLogMsgs"](limit=1))["lines"]
    finally:
        await host.close()


class _Partial:
    async def log_msgs(self, limit: int = 200) -> dict[str, list[str]]:
        return {"lines": []}


def test_a_partial_stand_in_gets_only_what_it_has() -> None:
    assert set(host_handlers(_Partial())) == {"GetLogMsgs"}  # type: ignore[arg-type]
