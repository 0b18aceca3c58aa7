"""The payment as paywire knows it, and its JSON representation of SPEC §7.

Plain frozen data: the store builds these from rows, the API renders them with `as_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from paywire.domain.money import format_amount
from paywire.domain.statuses import Status


def utc_iso(moment: datetime) -> str:
    """An instant as ISO 8601 in UTC with microseconds, e.g. 2026-11-26T16:29:00.123456Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Party:
    """Debtor or creditor: `agent_bic` is the creditor's agent; the debtor's is our own BIC."""

    name: str
    account: str
    agent_bic: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "account": self.account}
        if self.agent_bic is not None:
            out["agent_bic"] = self.agent_bic
        return out


# The longest reason code: a receiver's proprietary one is ISO 20022 Max35Text, and
# payments.reason_code holds no more (migration 0003).
REASON_CODE_MAX = 35


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a payment is where it is: a code (ours, or the receiver's) and free text."""

    code: str
    text: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True, slots=True)
class NewPayment:
    """A validated creation request."""

    amount: Decimal
    currency: str
    value_date: date
    debtor: Party
    creditor: Party
    end_to_end_id: str | None = None
    remittance_info: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    id: UUID
    reference: str
    status: Status
    amount: Decimal
    currency: str
    value_date: date
    debtor: Party
    creditor: Party
    end_to_end_id: str | None
    remittance_info: str | None
    uetr: UUID
    msg_id: str
    created_by: str
    approved_by: str | None
    created_at: datetime
    updated_at: datetime
    approved_at: datetime | None
    reason: Reason | None

    def entered(self, status: Status, reason: Reason | None, at: datetime, by: str) -> Payment:
        """The payment after it entered `status` at `at` (what the status change writes): the
        reason replaced, and the approver recorded when the status is APPROVED."""
        approved = status is Status.APPROVED
        return replace(
            self,
            status=status,
            reason=reason,
            updated_at=at,
            approved_by=by if approved else self.approved_by,
            approved_at=at if approved else self.approved_at,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "reference": self.reference,
            "status": self.status.value,
            "amount": format_amount(self.amount, self.currency),
            "currency": self.currency,
            "value_date": self.value_date.isoformat(),
            "debtor": self.debtor.as_dict(),
            "creditor": self.creditor.as_dict(),
            "end_to_end_id": self.end_to_end_id,
            "remittance_info": self.remittance_info,
            "uetr": str(self.uetr),
            "msg_id": self.msg_id,
            "created_by": self.created_by,
            "approved_by": self.approved_by,
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at),
            "approved_at": utc_iso(self.approved_at) if self.approved_at else None,
            "reason": self.reason.as_dict() if self.reason else None,
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    status: Status
    at: datetime
    by: str
    reason: Reason | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "at": utc_iso(self.at),
            "by": self.by,
            "reason": self.reason.as_dict() if self.reason else None,
        }


@dataclass(frozen=True, slots=True)
class AnswerSummary:
    """The answer that settled a message."""

    kind: Literal["ACK", "NACK"]
    status: str
    reason_code: str | None
    received_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "reason_code": self.reason_code,
            "received_at": utc_iso(self.received_at),
        }


@dataclass(frozen=True, slots=True)
class MessageSummary:
    msg_id: str
    uetr: UUID
    attempts: int
    answer: AnswerSummary | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "uetr": str(self.uetr),
            "attempts": self.attempts,
            "answer": self.answer.as_dict() if self.answer else None,
        }


@dataclass(frozen=True, slots=True)
class PaymentDetail:
    """A payment with its status history and its message, for GET /api/v1/payments/{id}."""

    payment: Payment
    history: tuple[HistoryEntry, ...]
    message: MessageSummary | None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.payment.as_dict(),
            "history": [entry.as_dict() for entry in self.history],
            "message": self.message.as_dict() if self.message else None,
        }
