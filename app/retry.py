"""Retrying network chat models on transient errors, with exponential backoff and jitter.

A batch against a hosted model meets rate limits, timeouts and dropped connections. Each model
call is retried on such errors (classified by exception type name and HTTP status code, so no
provider SDK needs importing); any other error is the model's own and ends the conversation as
``agent_error`` like it would outside a batch. A call that still fails after ``max_attempts``
makes the whole case ``failed``, so resuming the batch runs it again later.

Example:
    >>> policy = RetryPolicy(max_attempts=3, sleep=lambda s: None)
    >>> model = RetryingModel(make_cj_model("openai:gpt-4o-mini"), policy)  # doctest: +SKIP
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.runnables import Runnable

from app.errors import InvalidArgumentError

__all__ = ["RetryPolicy", "RetryStats", "RetryingModel", "is_transient", "TRANSIENT_STATUS_CODES"]

T = TypeVar("T")

TRANSIENT_STATUS_CODES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
"""HTTP statuses worth retrying: timeouts, conflicts, rate limits, overloaded or failing servers."""

# Exception class names used by the OpenAI/Anthropic SDKs, httpx, requests and the standard library.
_TRANSIENT_NAMES = frozenset(
    {
        "RateLimitError",
        "APITimeoutError",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "OverloadedError",
        "Timeout",
        "TimeoutError",
        "TimeoutException",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "ConnectError",
        "ReadError",
        "RemoteProtocolError",
        "ConnectionError",
        "ConnectionResetError",
        "ConnectionAbortedError",
        "ConnectionRefusedError",
        "BrokenPipeError",
    }
)


def _status_code(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        code = getattr(holder, "status_code", None) or getattr(holder, "status", None)
        if isinstance(code, int):
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether an error is worth retrying: rate limits, timeouts, connection and server errors.

    Looks at the exception's class hierarchy names, its (or its response's) HTTP status code,
    and the exceptions it was explicitly raised from (``raise ... from exc``).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(current).__mro__):
            return True
        if _status_code(current) in TRANSIENT_STATUS_CODES:
            return True
        current = current.__cause__  # explicit wrapping only: an error raised while handling another is its own
    return False


@dataclass
class RetryPolicy:
    """How transient model errors are retried.

    The wait before retry ``n`` (1-based) is ``min(max_delay, base_delay * 2 ** (n - 1))``, half
    of it fixed and half random ("equal jitter"), so parallel workers do not retry in lockstep.

    Args:
        max_attempts: tries per model call, including the first (1 disables retrying).
        base_delay / max_delay: seconds.
        sleep: how to wait (injectable, so tests never wait).
        random: a uniform [0, 1) source for the jitter.
        classify: which errors are transient.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    classify: Callable[[BaseException], bool] = is_transient

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 100:
            raise InvalidArgumentError(f"max attempts must be between 1 and 100, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise InvalidArgumentError("retry delays must not be negative")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        cap = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return cap / 2 + self.random() * cap / 2

    def call(self, fn: Callable[[], T], stats: RetryStats) -> T:
        """Run ``fn``, retrying transient errors; records retries and a final give-up in ``stats``."""
        attempt = 1
        while True:
            try:
                return fn()
            except Exception as exc:
                if not self.classify(exc):
                    raise
                if attempt >= self.max_attempts:
                    stats.gave_up = exc
                    stats.gave_up_after = attempt
                    raise
                stats.retries += 1
                self.sleep(self.delay(attempt))
                attempt += 1


@dataclass
class RetryStats:
    """What retrying did during one conversation (shared by its models)."""

    retries: int = 0
    gave_up: BaseException | None = field(default=None, repr=False)
    gave_up_after: int = 0


class RetryingModel:
    """A chat model (or any runnable) whose ``invoke`` retries transient errors.

    Methods that return a runnable (``bind_tools``, ``with_structured_output``, ...) return it
    wrapped too, so the graph's ``model.bind_tools(tools).invoke(...)`` is retried as a whole call.
    Every other attribute is the wrapped model's.
    """

    def __init__(self, inner: Any, policy: RetryPolicy, stats: RetryStats | None = None) -> None:
        self._inner = inner
        self._policy = policy
        self.retry_stats = stats if stats is not None else RetryStats()

    @property
    def wrapped(self) -> Any:
        """The model being retried."""
        return self._inner

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        return self._policy.call(lambda: self._inner.invoke(input, config, **kwargs), self.retry_stats)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            return RetryingModel(out, self._policy, self.retry_stats) if isinstance(out, Runnable) else out

        return wrapped
