"""Turns a posted payment into the pacs.008 that every transmission of it will carry.

The bytes are built once and stored; resends send them unchanged, `MsgId` included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from paywire.config import Settings
from paywire.domain.payment import Payment
from paywire.store.messages import OutgoingMessage
from paywire.wire import NOT_PROVIDED, build_pacs008


@dataclass(frozen=True, slots=True)
class Composer:
    """Our BIC (instructing and debtor agent) and the receiver's (instructed agent)."""

    sender_bic: str
    receiver_bic: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Composer:
        settings.require("sender_bic", "receiver_bic")
        return cls(str(settings.sender_bic), str(settings.receiver_bic))

    def __call__(self, payment: Payment) -> OutgoingMessage:
        payload = build_pacs008(
            msg_id=payment.msg_id,
            created_at=datetime.now(UTC),
            instr_id=payment.reference,
            end_to_end_id=payment.end_to_end_id or NOT_PROVIDED,
            uetr=str(payment.uetr),
            amount=payment.amount,
            currency=payment.currency,
            value_date=payment.value_date,
            instructing_bic=self.sender_bic,
            instructed_bic=self.receiver_bic,
            debtor_name=payment.debtor.name,
            debtor_account=payment.debtor.account,
            debtor_agent_bic=self.sender_bic,
            creditor_name=payment.creditor.name,
            creditor_account=payment.creditor.account,
            creditor_agent_bic=payment.creditor.agent_bic or "",
            remittance_info=payment.remittance_info,
        )
        return OutgoingMessage(payment.id, payment.msg_id, payment.uetr, payload)
