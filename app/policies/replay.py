"""A chat model that replays recorded replies: an offline judge (``--judge-model replay:FILE``).

The file is YAML (or JSON) with one key, ``replies``: a list of reply texts, served in order; the
last one repeats. It makes the judge's whole path -- prompt, reading the verdict, asking again
for an unreadable one, scoring, merging into a batch's records -- runnable without a network,
for tests and for demonstrations. Replies are served per process in call order, so run with
``--jobs 1`` when the order matters.

Example:
    >>> model = ReplayChatModel(replies=['{"verdicts": []}'], source="inline")
    >>> model.invoke("grade this").content
    '{"verdicts": []}'
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field, PrivateAttr

from app.datafiles import load_yaml
from app.errors import InvalidArgumentError

__all__ = ["ReplayChatModel", "load_replay_model"]


class ReplayChatModel(BaseChatModel):
    """Replays ``replies`` in order (the last one repeats); tools it is bound to are ignored."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    replies: list[str] = Field(min_length=1)
    source: str = ""
    _served: int = PrivateAttr(default=0)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "replay"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ReplayChatModel:
        return self  # replies are recorded text; structured output falls back to reading it

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with self._lock:
            reply = self.replies[min(self._served, len(self.replies) - 1)]
            self._served += 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])


def load_replay_model(path: str) -> ReplayChatModel:
    """The replay model of a replies file (``replies: [text, ...]``).

    Raises:
        InvalidArgumentError: no such file, or a file without a non-empty list of texts.
        DataFileError: a file that is not UTF-8 YAML.
    """
    file = Path(path)
    if not file.is_file():
        raise InvalidArgumentError(f"replay:{path}: no such file; give a YAML file with `replies: [text, ...]`")
    raw = load_yaml(file)
    replies = raw.get("replies") if isinstance(raw, dict) else None
    if not isinstance(replies, list) or not replies or not all(isinstance(r, str) for r in replies):
        raise InvalidArgumentError(f"replay:{path}: needs `replies:` with a non-empty list of reply texts")
    return ReplayChatModel(replies=replies, source=str(file))
