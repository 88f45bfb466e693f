"""Scripted fake chat models for tests: replay fixed replies and record what they were sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

Reply = AIMessage | str | Callable[[list[BaseMessage]], AIMessage | str]


def call(name: str, args: dict | None = None, call_id: str = "c1", text: str = "") -> AIMessage:
    """An AIMessage with one tool call."""
    return AIMessage(content=text, tool_calls=[{"id": call_id, "name": name, "args": args or {}, "type": "tool_call"}])


class ScriptedChatModel(BaseChatModel):
    """Replays ``replies`` in order (the last one repeats); records every call's messages and bound tools."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    replies: list[Any]
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound: list[list[str]] = Field(default_factory=list)
    fail_on_call: int | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        self.bound.append([getattr(t, "name", str(t)) for t in tools])
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(list(messages))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("model exploded")
        reply = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        if callable(reply):
            reply = reply(messages)
        if isinstance(reply, str):
            reply = AIMessage(content=reply)
        reply = reply.model_copy(update={"id": None})  # a fresh message each call, as a real model gives
        return ChatResult(generations=[ChatGeneration(message=reply)])
