"""The kinds of item in the exception queue (SPEC §7), named once for every layer.

Reconciliation's categories map onto them (`paywire.domain.reconciliation.EXCEPTION_KIND`); the
database's CHECK on `exceptions.kind` lists the same names (migration 0005).
"""

from __future__ import annotations

ACK_MISSING = "ACK_MISSING"
LEDGER_MISMATCH = "LEDGER_MISMATCH"
MISSING_REVERSAL = "MISSING_REVERSAL"
ORPHAN_ACK = "ORPHAN_ACK"
PROCESSING_ERROR = "PROCESSING_ERROR"
KINDS = (ACK_MISSING, LEDGER_MISMATCH, MISSING_REVERSAL, ORPHAN_ACK, PROCESSING_ERROR)
