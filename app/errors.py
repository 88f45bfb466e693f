"""Domain exceptions.

Every mistake a user can make (a bad data file, an unknown name, an out-of-range argument, an
unreachable database) raises a subclass of :class:`CJSimError` whose message says what is
wrong and how to fix it. Only the CLI translates these into exit codes; library code never
prints or exits.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CJSimError",
    "DataFileError",
    "UnknownNameError",
    "InvalidArgumentError",
    "DataUnavailableError",
    "ProviderError",
    "WritableUserError",
    "RunLockedError",
    "ActionDeclinedError",
    "ActionFailedError",
    "DeliveryFailedError",
    "ExecutorError",
]


class CJSimError(Exception):
    """Base class of every error the project raises on purpose."""


class DataFileError(CJSimError):
    """A YAML/JSON data file is missing, malformed or fails validation."""


class UnknownNameError(CJSimError, KeyError):
    """A scenario, persona, workflow, view, segment, ... name that does not exist.

    The message lists the valid names so the user can pick one.
    """

    def __init__(self, kind: str, name: object, valid: Iterable[object], hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.valid = sorted(str(v) for v in valid)
        choices = ", ".join(self.valid) if self.valid else "(none available)"
        message = f"unknown {kind} {name!r}; valid {kind}s: {choices}"
        if hint:
            message += f". {hint}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class InvalidArgumentError(CJSimError, ValueError):
    """An argument is outside its allowed range or has the wrong form."""


class DataUnavailableError(CJSimError):
    """The data behind a provider cannot answer the request (e.g. an unknown customer id)."""


class ProviderError(CJSimError):
    """A data provider cannot be opened or queried (bad URL, unreachable server, wrong schema)."""


class WritableUserError(ProviderError):
    """A database user that can write was given where a read-only one is required.

    ``accept`` names how the caller accepts such a user anyway; a command line re-raises the
    error with its own option through :meth:`with_accept`.
    """

    def __init__(self, problem: str, accept: str = "allow_writable_user=True") -> None:
        self.problem = problem
        self.accept = accept
        super().__init__(f"{problem}; or accept this user explicitly with {accept}")

    def with_accept(self, accept: str) -> WritableUserError:
        """The same error, naming another way to accept the user."""
        return WritableUserError(self.problem, accept)


class RunLockedError(CJSimError):
    """Another process is writing to the same run folder."""


class ActionDeclinedError(CJSimError):
    """An action that needs approval was declined (or approval was not given); nothing was done."""


class ActionFailedError(CJSimError):
    """An action raised; its effect was rolled back and the failure is in the audit trail."""


class DeliveryFailedError(CJSimError):
    """A playbook webhook refused the payload or stayed unreachable after its retries (the outbox holds the backup)."""


class ExecutorError(CJSimError):
    """An executor cannot start (Ray not installed, cluster unreachable) or lost a worker while running."""
