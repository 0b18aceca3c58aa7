"""JSON schemas of the API's bodies and representations (SPEC §7), in the OpenAPI 3.0 dialect.

Request schemas are enforced by the route guard; all of them are published as components of
the OpenAPI document. Representations allow extra fields: more may be added, none renamed.
"""

from __future__ import annotations

from typing import Any

from paywire.api.validation import Schema
from paywire.domain.credentials import PASSWORD_MAX, PASSWORD_MIN
from paywire.domain.exception_kinds import KINDS
from paywire.domain.payment import REASON_CODE_MAX
from paywire.domain.reconciliation import CATEGORIES
from paywire.domain.roles import Role
from paywire.domain.statuses import Status
from paywire.transport.breaker import BreakerState

ROLES = tuple(role.value for role in Role)
STATUSES = tuple(status.value for status in Status)


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(
    properties: dict[str, Any], *, required: tuple[str, ...] = (), closed: bool = False
) -> Schema:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _text(max_length: int, *, min_length: int = 1) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length}


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def _list_of(item: str) -> Schema:
    return _object(
        {"items": {"type": "array", "items": ref(item)}, "next_cursor": _nullable(STRING)},
        required=("items", "next_cursor"),
    )


STRING: Schema = {"type": "string"}
DATE: Schema = {"type": "string", "format": "date"}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
# Amounts are decimal strings of at most 18 digits (ISO 20022's ActiveCurrencyAndAmount); the
# currency decides how many of them may follow the point, up to 4 (CLF, UYW; domain.money checks
# both). The description completes "must be …" when anything else is sent (validation.py).
AMOUNT: Schema = {
    "type": "string",
    "pattern": r"^[0-9]{1,18}(\.[0-9]{1,4})?$",
    "maxLength": 19,
    "description": 'a decimal string of at most 18 digits, such as "1250.00"',
}
SIGNED_AMOUNT: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$"}
BIC: Schema = {"type": "string", "pattern": "^[A-Z0-9]{8}([A-Z0-9]{3})?$"}
ROLE: Schema = {"type": "string", "enum": list(ROLES)}
STATUS: Schema = {"type": "string", "enum": list(STATUSES)}
# Every array a request may hold needs a maxItems: validation.py checks the items of an array
# only when it is within its bound, and the items of an unbounded one always.
ROLE_LIST: Schema = {
    "type": "array",
    "items": ROLE,
    "minItems": 1,
    "maxItems": len(ROLES),
    "uniqueItems": True,
}
PASSWORD: Schema = _text(PASSWORD_MAX, min_length=PASSWORD_MIN)
REASON: Schema = _text(140)
COUNT: Schema = {"type": "integer", "minimum": 0}
BREAKER: Schema = {"type": "string", "enum": [state.name for state in BreakerState]}
# A sum of amounts may need more integer digits than one payment's amount.
AMOUNT_SUM: Schema = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,4})?$"}
EXCEPTION_KIND: Schema = {"type": "string", "enum": list(KINDS)}
EXCEPTION_STATE: Schema = {"type": "string", "enum": ["OPEN", "RESOLVED"]}
# The CSV form of a report or an export: a header row, then one row per item.
CSV: Schema = {"type": "string"}

HEALTH = ref("Health")
LIVE = _object({"status": {"type": "string", "enum": ["alive"]}}, required=("status",))
ERROR = ref("Error")
PAYMENT = ref("Payment")
PAYMENT_DETAIL = ref("PaymentDetail")
OPERATOR = ref("Operator")

# An IBAN of 34 characters as it is printed, in groups of four: the domain takes the spaces out
# before it checks the length (domain.validation.account).
ACCOUNT_IN = _text(42)
PARTY_IN = _object(
    {"name": _text(140), "account": ACCOUNT_IN}, required=("name", "account"), closed=True
)
CREDITOR_IN = _object(
    {"name": _text(140), "account": ACCOUNT_IN, "agent_bic": BIC},
    required=("name", "account", "agent_bic"),
    closed=True,
)

COMPONENTS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": STRING,
                    "message": STRING,
                    "details": {"type": "array", "items": {}},
                },
                required=("code", "message", "details"),
            ),
            "request_id": _nullable(STRING),
        },
        required=("error", "request_id"),
    ),
    "Health": _object(
        {
            "status": {"type": "string", "enum": ["ok", "degraded", "error"]},
            "checks": {"type": "object", "additionalProperties": _object({"status": STRING})},
        },
        required=("status", "checks"),
    ),
    "LoginRequest": _object(
        {"username": _text(64), "password": _text(PASSWORD_MAX)},
        required=("username", "password"),
        closed=True,
    ),
    "PasswordChange": _object(
        {"current_password": _text(PASSWORD_MAX), "new_password": _text(PASSWORD_MAX)},
        required=("current_password", "new_password"),
        closed=True,
    ),
    "Operator": _object(
        {
            "id": STRING,
            "username": STRING,
            "roles": {"type": "array", "items": ROLE},
            "active": {"type": "boolean"},
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
            "password_change_required": {"type": "boolean"},
        },
        required=("id", "username", "roles", "active", "password_change_required"),
    ),
    "LoginResult": _object(
        {"token": STRING, "expires_at": DATE_TIME, "operator": OPERATOR},
        required=("token", "expires_at", "operator"),
    ),
    "OperatorCreate": _object(
        {
            "username": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
            "password": PASSWORD,
            "roles": ROLE_LIST,
        },
        required=("username", "password", "roles"),
        closed=True,
    ),
    "OperatorPatch": {
        **_object(
            {"roles": ROLE_LIST, "active": {"type": "boolean"}, "password": PASSWORD},
            closed=True,
        ),
        "minProperties": 1,
    },
    "OperatorList": _list_of("Operator"),
    "PaymentCreate": _object(
        {
            "amount": AMOUNT,
            "currency": CURRENCY,
            "value_date": DATE,
            "debtor": PARTY_IN,
            "creditor": CREDITOR_IN,
            "end_to_end_id": _text(35),
            "remittance_info": _text(140),
        },
        required=("amount", "currency", "debtor", "creditor"),
        closed=True,
    ),
    "Party": _object({"name": STRING, "account": STRING}, required=("name", "account")),
    "Creditor": _object(
        {"name": STRING, "account": STRING, "agent_bic": STRING},
        required=("name", "account", "agent_bic"),
    ),
    "Reason": _object({"code": STRING, "text": _nullable(STRING)}, required=("code",)),
    "Payment": _object(
        {
            "id": STRING,
            "reference": STRING,
            "status": STATUS,
            "amount": AMOUNT,
            "currency": CURRENCY,
            "value_date": DATE,
            "debtor": ref("Party"),
            "creditor": ref("Creditor"),
            "end_to_end_id": _nullable(STRING),
            "remittance_info": _nullable(STRING),
            "uetr": STRING,
            "msg_id": _nullable(STRING),
            "created_by": STRING,
            "approved_by": _nullable(STRING),
            "created_at": DATE_TIME,
            "updated_at": DATE_TIME,
            "approved_at": _nullable(DATE_TIME),
            "reason": _nullable(ref("Reason")),
        },
        required=(
            "id",
            "reference",
            "status",
            "amount",
            "currency",
            "value_date",
            "debtor",
            "creditor",
            "uetr",
            "created_by",
            "created_at",
            "updated_at",
        ),
    ),
    "HistoryItem": _object(
        {"status": STATUS, "at": DATE_TIME, "by": STRING, "reason": _nullable(ref("Reason"))},
        required=("status", "at", "by"),
    ),
    "Answer": _object(
        {
            "kind": {"type": "string", "enum": ["ACK", "NACK"]},
            "status": _nullable(STRING),
            "reason_code": _nullable(STRING),
            "received_at": DATE_TIME,
        },
        required=("kind", "received_at"),
    ),
    "Message": _object(
        {
            "msg_id": STRING,
            "uetr": STRING,
            "attempts": {"type": "integer", "minimum": 0},
            "answer": _nullable(ref("Answer")),
        },
        required=("msg_id", "uetr", "attempts", "answer"),
    ),
    "PaymentDetail": {
        "allOf": [
            PAYMENT,
            _object(
                {
                    "history": {"type": "array", "items": ref("HistoryItem")},
                    "message": _nullable(ref("Message")),
                },
                required=("history", "message"),
            ),
        ]
    },
    "PaymentList": _list_of("Payment"),
    "RejectRequest": _object({"reason": REASON}, required=("reason",), closed=True),
    "ComplianceDecision": _object(
        {"decision": {"type": "string", "enum": ["release", "reject"]}, "reason": REASON},
        required=("decision", "reason"),
        closed=True,
    ),
    "Account": _object(
        {
            "id": STRING,
            "account": STRING,
            "name": STRING,
            "currency": CURRENCY,
            "balance": SIGNED_AMOUNT,
            "overdraft": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["CUSTOMER", "CLEARING"]},
        },
        required=("id", "account", "name", "currency", "balance"),
    ),
    "AccountList": _list_of("Account"),
    "Entry": _object(
        {
            "id": {"type": "integer"},
            "posting_id": STRING,
            "payment_id": STRING,
            "kind": {"type": "string", "enum": ["POSTING", "REVERSAL"]},
            "amount": SIGNED_AMOUNT,
            "currency": CURRENCY,
            "created_at": DATE_TIME,
        },
        required=("id", "payment_id", "kind", "amount", "currency", "created_at"),
    ),
    "EntryList": _list_of("Entry"),
    "TlsConnection": _object(
        {
            "id": {"type": "integer"},
            "state": STRING,
            "inflight": COUNT,
            "sent": COUNT,
            "acks": COUNT,
            "nacks": COUNT,
            "errors": COUNT,
            "connects": COUNT,
            "connected_since": _nullable(DATE_TIME),
        },
        required=("state", "inflight", "sent", "acks", "nacks"),
    ),
    "TlsStatus": _object(
        {
            "state": STRING,
            "connections": {"type": "array", "items": ref("TlsConnection")},
            "circuit_breaker": ref("BreakerState"),
            "totals": {"type": "object", "additionalProperties": COUNT},
            "waiting_senders": COUNT,
        },
        required=("connections", "circuit_breaker"),
    ),
    "BreakerState": _object(
        {"state": BREAKER, "failures": COUNT, "previous_state": BREAKER}, required=("state",)
    ),
    "AuditLog": _object(
        {
            "id": {"type": "integer"},
            "timestamp": DATE_TIME,
            "operator": STRING,
            "action": STRING,
            "entity": STRING,
            "entity_id": STRING,
            "before": {"nullable": True},
            "after": {"nullable": True},
            "request_id": _nullable(STRING),
            "prev_hash": STRING,
            "hash": STRING,
        },
        required=("id", "timestamp", "operator", "action", "entity", "entity_id", "hash"),
    ),
    "AuditLogList": _list_of("AuditLog"),
    "AuditVerify": _object(
        {"ok": {"type": "boolean"}, "rows": COUNT, "first_bad_id": _nullable({"type": "integer"})},
        required=("ok", "rows", "first_bad_id"),
    ),
    "Unmatched": _object(
        {
            "payment_id": _nullable(STRING),
            "msg_id": _nullable(STRING),
            "category": {"type": "string", "enum": list(CATEGORIES)},
            "detail": STRING,
            "since": DATE_TIME,
            "exception_id": _nullable({"type": "integer"}),
        },
        required=("payment_id", "msg_id", "category", "detail", "since"),
    ),
    "ReconciliationDaily": _object(
        {
            "date": DATE,
            "as_of": DATE_TIME,
            "totals": _object(
                {"payments": COUNT, "matched": COUNT, "unmatched": COUNT},
                required=("payments", "matched", "unmatched"),
            ),
            "by_currency": {
                "type": "array",
                "items": _object(
                    {
                        "currency": CURRENCY,
                        "payments": COUNT,
                        "amount": AMOUNT_SUM,
                        "matched": COUNT,
                        "unmatched": COUNT,
                    },
                    required=("currency", "payments", "amount", "matched", "unmatched"),
                ),
            },
            "unmatched": {"type": "array", "items": ref("Unmatched")},
        },
        required=("date", "totals", "by_currency", "unmatched"),
    ),
    "ReconciliationAging": _object(
        {
            "days": COUNT,
            "as_of": DATE_TIME,
            "unmatched": {"type": "array", "items": ref("Unmatched")},
        },
        required=("days", "unmatched"),
    ),
    "Exception": _object(
        {
            "id": {"type": "integer"},
            "kind": EXCEPTION_KIND,
            "payment_id": _nullable(STRING),
            "msg_id": _nullable(STRING),
            "detail": STRING,
            "state": EXCEPTION_STATE,
            "opened_at": DATE_TIME,
            "resolved_at": _nullable(DATE_TIME),
            "resolved_by": _nullable(STRING),
            "note": _nullable(STRING),
        },
        required=(
            "id",
            "kind",
            "payment_id",
            "msg_id",
            "state",
            "opened_at",
            "resolved_at",
            "resolved_by",
            "note",
        ),
    ),
    "ExceptionList": _list_of("Exception"),
    "ExceptionResolve": _object(
        {
            "note": _text(1000),
            "action": {"type": "string", "enum": ["resend", "mark_settled"]},
            "outcome": {"type": "string", "enum": ["ACK", "NACK"]},
            "confirmation": _text(140),
            "reason_code": _text(REASON_CODE_MAX),
        },
        required=("note",),
        closed=True,
    ),
}
