"""How the reference receiver answers a pacs.008: the first NACK rule that matches, else ACK.

Random rules draw from the receiver's seeded generator, so a run with the same seed and the same
message order answers the same way.
"""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

from paywire.domain.identifiers import office_bic
from paywire.wire import Pacs008Summary


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    status: str  # pacs.002 TxSts
    reason_code: str | None = None
    reason_text: str | None = None


ACCEPTED = Decision("ACSP")
# ISO 20022 external status reason codes.
AMOUNT_REFUSED = Decision("RJCT", "AM04", "amount above the receiver's limit")
CREDITOR_BIC_REFUSED = Decision("RJCT", "RC01", "creditor agent BIC refused")
RANDOMLY_REFUSED = Decision("RJCT", "MS03", "rejected at random (--nack-rate)")


def normalise_bic(bic: str) -> str:
    """A BIC as given (blanks around it, small letters) in the one form of its office, so that
    DEUTDEFF and DEUTDEFFXXX are refused alike."""
    return office_bic(bic.strip().upper())


@dataclasses.dataclass(frozen=True, slots=True)
class Rules:
    nack_amount_over: Decimal | None = None  # compared in the message's own currency
    nack_creditor_bics: frozenset[str] = frozenset()  # normalised with normalise_bic
    nack_rate: float = 0.0

    def decide(self, summary: Pacs008Summary, rng: random.Random) -> Decision:
        if self.nack_amount_over is not None and Decimal(summary.amount) > self.nack_amount_over:
            return AMOUNT_REFUSED
        if self.nack_creditor_bics and (
            normalise_bic(summary.creditor_agent_bic) in self.nack_creditor_bics
        ):
            return CREDITOR_BIC_REFUSED
        if self.nack_rate and rng.random() < self.nack_rate:
            return RANDOMLY_REFUSED
        return ACCEPTED
