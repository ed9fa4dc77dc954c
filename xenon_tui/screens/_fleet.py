"""The host console's servers: their state, a connection worker each, and daemon calls."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from textual.message_pump import MessagePump

from xenon_tui._config import ConsoleConfig, ServerEntry
from xenon_tui._connection import ClientFactory, LinkState, ServerConnection, Uncertain
from xenon_tui._errors import ConfigError, ConsoleError, NotConnectedError, ServerError
from xenon_tui._state import ServerState, ago
from xenon_tui.messages import Failed, LinkChanged, ServerData, ServerEvent


class Fleet:
    """Every server of a host console, in the panel's order, and their links.

    What the links report and what the calls fetch goes to ``target`` (the screen) as
    messages: :class:`LinkChanged`, :class:`ServerEvent`, :class:`ServerData`. Connection
    workers belong to the app, like every worker.

    Args:
        target: Receives the messages.
        config: Servers at start, TLS material, the read-only flag.
        client_factory: Builds the XPS client per server.
    """

    def __init__(
        self, target: MessagePump, config: ConsoleConfig, client_factory: ClientFactory
    ) -> None:
        self._target = target
        self._config = config
        self._client_factory = client_factory
        self.servers: dict[str, ServerState] = {e.address: ServerState(e) for e in config.servers}
        # (address, method, domain) -> the domain's run state as shown when a request
        # whose outcome became unknown was sent.
        self._before: dict[tuple[str, str, str], str] = {}

    def entries(self) -> tuple[ServerEntry, ...]:
        """The servers as remembered in the settings."""
        return tuple(s.entry for s in self.servers.values())

    def add(self, entry: ServerEntry) -> ServerState:
        """Adds a server (not yet connected)."""
        state = self.servers[entry.address] = ServerState(entry)
        return state

    def remove(self, address: str) -> None:
        """Forgets a server (disconnect it first)."""
        del self.servers[address]

    def connect(self, address: str) -> None:
        """Starts (or restarts) the connection worker of a server."""
        state = self.servers[address]
        if state.conn is not None:
            return
        post = self._target.post_message

        def on_state(link: LinkState, detail: str) -> None:
            post(LinkChanged(address, link, detail))

        def on_event(event: dict[str, Any]) -> None:
            post(ServerEvent(address, event))

        async def on_connected() -> None:
            # In the connection worker, before it pumps events: the first violations
            # fetched must be in place before pushed ones (see ServerState.take_violations).
            try:
                await self.fetch_all(address)
            except ConsoleError as exc:  # the link stays up; what was read is shown
                post(Failed(exc))

        async def on_settled(settled: list[Uncertain]) -> None:
            for uncertain in settled:
                try:
                    await self.reconcile(address, uncertain)
                except ConsoleError as exc:
                    post(Failed(exc))

        conn = ServerConnection(
            state.entry,
            self._config.tls,
            read_only=self._config.read_only,
            on_state=on_state,
            on_event=on_event,
            factory=self._client_factory,
            on_connected=on_connected,
            on_settled=on_settled,
        )
        state.conn = conn
        self._target.app.run_worker(
            conn.run(),
            group=f"conn:{address}",
            exclusive=True,
            name=f"connection {address}",
            exit_on_error=False,
        )

    async def disconnect(self, address: str) -> None:
        """Stops a server's connection worker."""
        state = self.servers[address]
        conn, state.conn = state.conn, None
        if conn is not None:
            await conn.stop()
        state.link = LinkState.DISCONNECTED

    async def stop(self) -> None:
        """Stops every connection worker (at exit)."""
        for state in self.servers.values():
            if state.conn is not None:
                await state.conn.stop()

    async def call(self, address: str | None, method: str, **params: Any) -> dict[str, Any]:
        """Calls a daemon method on a server (raises ConsoleError subclasses)."""
        if address is None or address not in self.servers:
            raise ConfigError("no server selected")
        state = self.servers[address]
        if state.conn is None:
            raise NotConnectedError(address, f"{address} is not connected")
        target = params.get("domain", params.get("name"))
        before = _run_state(state.domains, target) if method in _EXPECTED_RUN_STATE else None
        try:
            return await state.conn.call(method, **params)
        except ServerError as exc:
            if exc.code == "outcome_unknown" and before is not None:
                # The read-back must not take a domain that already was so for the
                # request's doing ("is paused: the pause applied" of one the MSM paused).
                self._before[(address, method, str(target))] = before
            raise

    async def fetch_all(self, address: str) -> None:
        """Fetches everything a freshly connected server shows; what was read is delivered
        even when a later call fails (that failure is raised)."""
        data: dict[str, Any] = {}
        try:
            data["info"] = await self.call(address, "GetHypervisorInfo")
            runs = await self.call(address, "GetDomainRunStates")
            data["domains"], data["xl_list"] = runs.get("domains", []), runs.get("xl_list", "")
            viol = await self.call(address, "GetViolations", since_seq=0, limit=10_000)
            data["violations"] = viol.get("violations", [])
            data["policy"] = await self.call(address, "GetPolicy", which="active")
            with contextlib.suppress(ConsoleError):  # optional: nothing staged, no stats yet
                data["staged"] = await self.call(address, "GetPolicy", which="staged")
            with contextlib.suppress(ConsoleError):
                data["stats"] = await self.call(address, "GetStats")
        finally:
            self._target.post_message(ServerData(address, data))

    async def refresh_domains(self, address: str) -> None:
        """Re-reads the domain list of a server."""
        runs = await self.call(address, "GetDomainRunStates")
        data = {"domains": runs.get("domains", []), "xl_list": runs.get("xl_list", "")}
        self._target.post_message(ServerData(address, data))

    async def refresh_policy(self, address: str) -> None:
        """Re-reads the active and staged policy of a server (and its info)."""
        data: dict[str, Any] = {}
        try:
            data["policy"] = await self.call(address, "GetPolicy", which="active")
            try:
                data["staged"] = await self.call(address, "GetPolicy", which="staged")
            except ConsoleError as exc:
                if exc.code != "not_found":
                    raise
                data["staged"] = None  # nothing staged (e.g. right after an activation)
            data["info"] = await self.call(address, "GetHypervisorInfo")
        finally:
            self._target.post_message(ServerData(address, data))

    async def reconcile(self, address: str, uncertain: Uncertain) -> None:
        """Reads back the object of a request whose outcome was unknown and says what
        actually happened (the host answers again)."""
        method, params = uncertain.method, uncertain.params
        after = ago(time.monotonic() - uncertain.sent_at).removesuffix(" ago")
        expected = _EXPECTED_RUN_STATE.get(method)
        target = params.get("domain", params.get("name"))
        if expected is None or target is None:
            await self.refresh_policy(address)
            await self.refresh_domains(address)
            info = await self.call(address, "GetHypervisorInfo")
            self._notify(
                address,
                f"{method}: the host answers again ({after} later) and was read again: "
                f"policy generation {info.get('policy_generation', '?')} is active.",
            )
            return
        runs = await self.call(address, "GetDomainRunStates")
        domains = runs.get("domains", [])
        self._target.post_message(
            ServerData(address, {"domains": domains, "xl_list": runs.get("xl_list", "")})
        )
        before = self._before.pop((address, method, str(target)), None)
        run = _run_state(domains, target)
        verb = _VERB[method]
        target = next((d.get("name") for d in domains if target in _keys(d)), None) or target
        if run is None:
            text = f"{target} is gone: the {verb} did not leave it on the host"
        elif run in expected and before in expected:
            text = f"{target} is {run}: it already was when the {verb} was sent"
        elif run in expected:
            text = f"{target} is {run}: the {verb} applied after {after}"
        else:
            text = f"{target} is {run}: the {verb} did not apply"
        self._notify(address, text)

    def _notify(self, address: str, text: str) -> None:
        self._target.app.notify(text, title=f"Server {address}: outcome", timeout=15)


def _run_state(domains: list[dict[str, Any]], target: object) -> str | None:
    """The run state of the domain named (or numbered) ``target``; None if not listed."""
    for domain in domains:
        if target is not None and target in _keys(domain):
            return str(domain.get("run_state", "?"))
    return None


def _keys(domain: dict[str, Any]) -> tuple[object, object]:
    return domain.get("name"), domain.get("domid")


# Run states a domain lifecycle request leads to, and how a person names the request.
_EXPECTED_RUN_STATE: dict[str, tuple[str, ...]] = {
    "PauseDomain": ("paused",),
    "UnpauseDomain": ("running",),
    "ShutdownDomain": ("shutdown",),
    "DestroyDomain": ("destroyed", "shutdown"),
    "RebootDomain": ("running",),
    "CreateDomain": ("running",),
}
_VERB = {
    "PauseDomain": "pause",
    "UnpauseDomain": "unpause",
    "ShutdownDomain": "shutdown",
    "DestroyDomain": "destroy",
    "RebootDomain": "reboot",
    "CreateDomain": "start",
}
