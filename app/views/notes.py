"""Notes and follow-ups the merchant asked CJ to keep: the ``save_note`` action and the ``get_notes`` view.

Notes live in the operations store, never in the source data. A note belongs to the business
date it was saved on and may name a customer and a follow-up date; ``get_notes`` lists the notes
saved on or before a date, follow-ups due first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from pydantic import Field
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from app.storage.ops import inserted_id, notes
from app.views.actions import ActionContext
from app.views.base import ViewArgs, ViewModel, ViewResult, not_available
from app.views.common import ViewContext
from app.views.registry import ActionSpec, ViewSpec

NO_OPS_STORE = "no operations store (notes are kept only where actions can write)"


class Note(ViewModel):
    note_id: int
    day: dt.date = Field(description="business date it was saved on")
    customer_id: str | None
    note: str
    follow_up_on: dt.date | None
    created_by: str

    def line(self) -> str:
        who = f" [{self.customer_id}]" if self.customer_id else ""
        due = f" (follow up {self.follow_up_on})" if self.follow_up_on else ""
        return f"  #{self.note_id} {self.day}{who}: {self.note}{due}"


class GetNotesArgs(ViewArgs):
    customer_id: str | None = Field(default=None, min_length=1, max_length=32, description="Only notes about this customer.")
    limit: int = Field(default=20, ge=1, le=100, description="How many notes (1-100).")


class NoteList(ViewResult):
    """Notes saved on or before ``as_of``: follow-ups due first, then newest first."""

    view: ClassVar[str] = "get_notes"
    customer_id: str | None
    total: int | None
    due_follow_ups: int | None = Field(description="notes whose follow-up date is on or before as_of")
    notes: list[Note]

    def to_text(self) -> str:
        scope = f" about {self.customer_id}" if self.customer_id else ""
        if "notes" in self.unavailable:
            return f"Notes{scope} as of {self.as_of}: {not_available(self.unavailable['notes'])}"
        head = f"Notes{scope} as of {self.as_of}: {self.total} saved, {self.due_follow_ups} follow-ups due"
        return "\n".join([head, *([n.line() for n in self.notes] or ["  (no notes)"])])


def get_notes(ctx: ViewContext, args: GetNotesArgs) -> NoteList:
    """Read the notes from the operations store."""
    if ctx.ops is None:
        return NoteList(
            as_of=ctx.as_of, customer_id=args.customer_id, total=None, due_follow_ups=None, notes=[],
            unavailable={"notes": NO_OPS_STORE},
        )  # fmt: skip
    where = [notes.c.day <= ctx.as_of]
    if args.customer_id:
        where.append(notes.c.customer_id == args.customer_id)

    def read(conn: Connection) -> list[Any]:
        return list(conn.execute(select(notes).where(*where).order_by(notes.c.note_id)).mappings())

    rows = ctx.ops.read(read)
    items = [Note(**{k: r[k] for k in Note.model_fields}) for r in rows]
    due = [n for n in items if n.follow_up_on is not None and n.follow_up_on <= ctx.as_of]
    ordered = sorted(due, key=lambda n: (n.follow_up_on, n.note_id)) + sorted(
        (n for n in items if n not in due), key=lambda n: -n.note_id
    )
    return NoteList(
        as_of=ctx.as_of, customer_id=args.customer_id, total=len(items), due_follow_ups=len(due),
        notes=ordered[: args.limit],
    )  # fmt: skip


class SaveNoteArgs(ViewArgs):
    note: str = Field(min_length=1, max_length=1000, description="What to remember, in the merchant's words.")
    customer_id: str | None = Field(default=None, min_length=1, max_length=32, description="The customer it is about, if any.")
    follow_up_on: dt.date | None = Field(default=None, description="When to follow up (YYYY-MM-DD), if at all.")


class SavedNote(ViewModel):
    """The note as stored."""

    note_id: int
    day: dt.date
    note: str
    customer_id: str | None
    follow_up_on: dt.date | None

    def to_text(self) -> str:
        due = f", follow-up on {self.follow_up_on}" if self.follow_up_on else ""
        who = f" about {self.customer_id}" if self.customer_id else ""
        return f"Saved note #{self.note_id}{who} on {self.day}{due}: {self.note}"


def save_note(ctx: ActionContext, args: SaveNoteArgs) -> SavedNote:
    """Insert the note in the caller's transaction (it commits with the audit row)."""
    if not args.note.strip():
        raise ValueError("the note is blank")
    values = {
        "day": ctx.day,
        "customer_id": args.customer_id,
        "note": args.note.strip(),
        "follow_up_on": args.follow_up_on,
        "created_by": ctx.actor,
    }
    note_id = inserted_id(ctx.conn.execute(insert(notes).values(**values)))
    return SavedNote(note_id=note_id, day=ctx.day, note=values["note"], customer_id=args.customer_id,
                     follow_up_on=args.follow_up_on)  # fmt: skip


GET_NOTES: ViewSpec[GetNotesArgs, NoteList] = ViewSpec(
    name="get_notes",
    args=GetNotesArgs,
    result=NoteList,
    description="Notes and follow-ups saved for the merchant.",
    tool="get_notes",
    guidance="Use it when the merchant asks what was noted or which follow-ups are due.",
    build=get_notes,
    cacheable=False,
    examples=({}, {"customer_id": "C000001", "limit": 5}),
)

SAVE_NOTE: ActionSpec[SaveNoteArgs, SavedNote] = ActionSpec(
    name="save_note",
    args=SaveNoteArgs,
    result=SavedNote,
    description="Save a note or follow-up for the merchant.",
    tool="save_note",
    guidance="Use it when the merchant asks you to remember something or to follow up later; it asks the merchant first.",
    run=save_note,
    side_effect="inserts one row into ops_notes",
    requires_approval=True,
    examples=({"note": "Call Sarah Chen about the late box", "customer_id": "C000001", "follow_up_on": "2025-03-20"},),
)
