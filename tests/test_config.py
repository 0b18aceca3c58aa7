"""Settings refused at start-up, with the variable named and what to set instead."""

from __future__ import annotations

import pytest

from paywire.config import MIN_FRAME_BYTES, load_settings
from paywire.errors import ConfigError
from paywire.wire import build_pacs008
from tests.wire.test_pacs008 import valid_payment

# Every text field at its longest, in the character escaping makes longest ('"' → "&quot;").
LONGEST = valid_payment(
    msg_id="M" * 35,
    instr_id="I" * 35,
    end_to_end_id='"' * 35,
    amount="99999999999999.99",
    debtor_name='"' * 140,
    creditor_name='"' * 140,
    creditor_account='"' * 34,
    remittance_info='"' * 140,
    instructed_bic="NWBKGB2LXXX",
    creditor_agent_bic="NWBKGB2LXXX",
)


def test_a_frame_limit_below_the_largest_message_is_refused() -> None:
    assert len(build_pacs008(**LONGEST)) < MIN_FRAME_BYTES
    with pytest.raises(ConfigError, match="PAYWIRE_MAX_FRAME_BYTES=4096: must be at least 8192"):
        load_settings(environ={"PAYWIRE_MAX_FRAME_BYTES": "4096"})
    assert load_settings(environ={"PAYWIRE_MAX_FRAME_BYTES": "8192"}).max_frame_bytes == 8192


def test_settings_are_logged_without_any_secret_of_their_urls() -> None:
    settings = load_settings(
        environ={
            "DATABASE_URL": "postgresql://paywire:db-pass@db/paywire"
            "?sslkey=/k.pem&sslpassword=key-pass&application_name=gw",
            "REDIS_URL": "redis://:redis-pass@cache:6379/0",
        }
    )
    shown = settings.redacted()
    assert shown["database_url"] == (
        "postgresql://paywire:***@db/paywire?sslkey=***&sslpassword=***&application_name=gw"
    )
    assert shown["redis_url"] == "redis://:***@cache:6379/0"
