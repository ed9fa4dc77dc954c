"""Runs (or records) the system commands the host issues: xl, ovs-vsctl, iptables-restore."""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._errors import CommandFailed, InvalidArgument

__all__ = ["CommandResult", "CommandRunner", "RecordedCommand", "RecordingRunner"]

log = logging.getLogger("xps.host")

# Output of a command is for parsing (xl list), not for streaming: cap what we keep.
_MAX_OUTPUT = 8 * 1024 * 1024


@dataclass(frozen=True)
class CommandResult:
    """The outcome of one command.

    Attributes:
        argv: The command as run.
        returncode: Its exit status (0 = success).
        stdout: Its standard output, decoded as UTF-8 (errors replaced).
        stderr: Its standard error, decoded likewise.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class RecordedCommand:
    """One command seen by a :class:`RecordingRunner`: its argv and its stdin, if any."""

    argv: tuple[str, ...]
    input: bytes | None = None


def _check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    if isinstance(argv, str | bytes) or not argv:
        raise InvalidArgument("a command is a non-empty list of arguments")
    out = tuple(argv)
    for arg in out:
        if not isinstance(arg, str) or "\x00" in arg:
            raise InvalidArgument(f"invalid command argument: {arg!r}")
    return out


def command_line(argv: Sequence[str]) -> str:
    """Returns argv as one shell-quoted line, as it appears in the log."""
    return shlex.join(argv)


class CommandRunner:
    """Executes commands as subprocesses (never through a shell) and logs each one.

    Each command is logged as ``Executing command: <argv>`` (report §3.1.1) on the
    ``xps.host`` logger before it runs.

    Args:
        timeout_s: Seconds a command may run before it is killed.
    """

    def __init__(self, *, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s

    async def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        check: bool = True,
        quiet: bool = False,
    ) -> CommandResult:
        """Runs one command and waits for it.

        Args:
            argv: Program and arguments.
            input: Bytes fed to its standard input, or None for no input.
            check: Raise :class:`CommandFailed` on a non-zero exit status.
            quiet: Log at DEBUG instead of INFO (periodic polling such as the
                statistics sampler's `xl list`).

        Returns:
            The command's result.

        Raises:
            CommandFailed: It could not start, timed out, or failed while ``check``.
            InvalidArgument: ``argv`` is malformed.
        """
        args = _check_argv(argv)
        log.log(
            logging.DEBUG if quiet else logging.INFO, "Executing command: %s", command_line(args)
        )
        result = await self._execute(args, input)
        if check and result.returncode != 0:
            detail = (result.stderr.strip() or result.stdout.strip())[:500]
            raise CommandFailed(
                f"command failed with status {result.returncode}: {command_line(args)}"
                + (f": {detail}" if detail else ""),
                details={"argv": list(args), "returncode": result.returncode},
            )
        return result

    async def _execute(self, argv: tuple[str, ...], input: bytes | None) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise CommandFailed(f"cannot run {argv[0]}: {exc.strerror or exc}") from exc
        try:
            async with asyncio.timeout(self.timeout_s):
                out, err = await proc.communicate(input)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise CommandFailed(
                f"command timed out after {self.timeout_s:g} s: {command_line(argv)}"
            ) from exc
        return CommandResult(
            argv,
            proc.returncode if proc.returncode is not None else -1,
            out[:_MAX_OUTPUT].decode("utf-8", "replace"),
            err[:_MAX_OUTPUT].decode("utf-8", "replace"),
        )


class RecordingRunner(CommandRunner):
    """Records commands instead of running them (the sim backend, tests).

    Every command is logged exactly like a real one and appended to :attr:`commands`.
    Canned answers can be given per command prefix: the longest matching prefix wins;
    an unmatched command succeeds with empty output.

    Args:
        responses: Maps an argv prefix (a tuple, or a space-separated string) to a
            :class:`CommandResult` or to the stdout text of a successful run.
    """

    def __init__(
        self, responses: Mapping[str | tuple[str, ...], CommandResult | str] | None = None
    ) -> None:
        super().__init__()
        self.commands: list[RecordedCommand] = []
        self._responses: dict[tuple[str, ...], CommandResult | str] = {}
        for key, value in (responses or {}).items():
            self.respond(key, value)

    def respond(self, prefix: str | tuple[str, ...], answer: CommandResult | str) -> None:
        """Sets the canned answer for commands starting with ``prefix``."""
        key = tuple(prefix.split()) if isinstance(prefix, str) else tuple(prefix)
        self._responses[key] = answer

    @property
    def argvs(self) -> list[list[str]]:
        """The recorded commands as argv lists, oldest first."""
        return [list(c.argv) for c in self.commands]

    async def _execute(self, argv: tuple[str, ...], input: bytes | None) -> CommandResult:
        self.commands.append(RecordedCommand(argv, input))
        best: CommandResult | str | None = None
        best_len = -1
        for prefix, answer in self._responses.items():
            if len(prefix) > best_len and argv[: len(prefix)] == prefix:
                best, best_len = answer, len(prefix)
        if best is None:
            return CommandResult(argv, 0)
        if isinstance(best, str):
            return CommandResult(argv, 0, best)
        return CommandResult(argv, best.returncode, best.stdout, best.stderr)
