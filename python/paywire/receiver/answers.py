"""The reference receiver's pacs.002 answers, at a cost that keeps up with a pipelining client.

One answer per message differs from the next only in three values; the wire core writes one
document per time stamp and decision, and each answer fills those values into it.
"""

from __future__ import annotations

import datetime
import secrets
from typing import Final

from paywire.receiver.rules import Decision
from paywire.wire import build_pacs002

# Stand-ins written by the wire core where the three values go. None needs escaping, and none
# can occur elsewhere in a pacs.002 (the UETR one is checked, as any could be).
_MSG_ID: Final = "~PAYWIRE~MSGID~"
_ORIGINAL: Final = "~PAYWIRE~ORIGINAL~"
_UETR: Final = "ffffffff-ffff-4fff-bfff-ffffffffffff"

# The document around the values: before the answer's MsgId, before OrgnlMsgId, before
# OrgnlUETR, and after it.
_Template = tuple[bytes, bytes, bytes, bytes]


class StatusReports:
    """Numbers the answers (`PWR` + 8 random hex digits + a 12-digit sequence) and writes them.

    `build` gives exactly the bytes `build_pacs002` would for the same arguments
    (tests/receiver/test_answers.py compares them).
    """

    def __init__(self) -> None:
        self._prefix = f"PWR{secrets.token_hex(4).upper()}"
        self._seq = 0
        self._now: datetime.datetime | None = None
        self._templates: dict[Decision, _Template | None] = {}
        # The last decision's template: answers mostly repeat one decision, and hashing a
        # Decision for the dictionary costs more than the rest of an answer.
        self._decision: Decision | None = None
        self._template: _Template | None = None

    def build(
        self, now: datetime.datetime, original_msg_id: str, original_uetr: str, decision: Decision
    ) -> bytes:
        """The pacs.002 answering `original_msg_id` with `decision`, numbered, created `now`.

        Callers pass the same `now` object for all the answers of one read.
        """
        self._seq += 1
        if now is not self._now:
            self._now, self._templates, self._decision = now, {}, None
        if decision is self._decision:
            template = self._template
        else:
            template = self._template_for(now, decision)
        m = original_msg_id
        # What the writer escapes in text; a value holding any of it is written by the core.
        if template is None or (
            not m.isalnum() and ("&" in m or "<" in m or ">" in m or '"' in m or "'" in m)
        ):
            return self.write(now, self._msg_id(), m, original_uetr, decision)
        head, original, uetr, tail = template
        return b"".join(
            (head, b"%012d" % self._seq, original, m.encode(), uetr, original_uetr.encode(), tail)
        )

    def next_msg_id(self) -> str:
        """A fresh MsgId for an answer written with `write` (orphans)."""
        self._seq += 1
        return self._msg_id()

    def _msg_id(self) -> str:
        return f"{self._prefix}{self._seq:012d}"

    @staticmethod
    def write(
        now: datetime.datetime,
        msg_id: str,
        original_msg_id: str,
        original_uetr: str | None,
        decision: Decision,
    ) -> bytes:
        return build_pacs002(
            msg_id=msg_id,
            created_at=now,
            original_msg_id=original_msg_id,
            original_uetr=original_uetr,
            status=decision.status,
            reason_code=decision.reason_code,
            reason_text=decision.reason_text,
        )

    def _template_for(self, now: datetime.datetime, decision: Decision) -> _Template | None:
        try:
            template = self._templates[decision]
        except KeyError:
            template = self._templates[decision] = self._split(now, decision)
        self._decision, self._template = decision, template
        return template

    def _split(self, now: datetime.datetime, decision: Decision) -> _Template | None:
        """The document split around the stand-ins; None if they cannot be found once each."""
        document = self.write(now, _MSG_ID, _ORIGINAL, _UETR, decision)
        parts: list[bytes] = []
        for stand_in in (_MSG_ID, _ORIGINAL, _UETR):
            pieces = document.split(stand_in.encode())
            if len(pieces) != 2:
                return None
            parts.append(pieces[0])
            document = pieces[1]
        head, original, uetr = parts
        return head + self._prefix.encode(), original, uetr, document
