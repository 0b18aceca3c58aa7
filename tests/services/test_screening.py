"""Loading the screening rules says what they hold, and says it loudly when there is no list."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from paywire.config import load_settings
from paywire.errors import ConfigError
from paywire.services.screening import load_rules
from tests.fixtures.settings import given_each_way

SANCTIONS = "type,value,source\nNAME,Ivan Drago,OFAC SDN\nNAME,Max Zorin,EU\nBIC,BADBDE22,OFAC\n"


def test_without_a_sanctions_file_screening_warns_that_only_limits_hold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="paywire.services.screening"):
        rules = load_rules(load_settings(environ={"PAYWIRE_AMOUNT_LIMITS": "EUR=1000"}))
    assert (len(rules.names), len(rules.bics)) == (0, 0)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "screening without a sanctions list: PAYWIRE_SANCTIONS_FILE is not set, so only amount"
        " limits (EUR=1000) hold payments"
    )


def test_a_loaded_list_is_logged_with_its_size_and_digest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listed = tmp_path / "sanctions.csv"
    listed.write_text(SANCTIONS, encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="paywire.services.screening"):
        load_rules(load_settings(environ={"PAYWIRE_SANCTIONS_FILE": str(listed)}))
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    digest = hashlib.sha256(SANCTIONS.encode()).hexdigest()
    assert record.getMessage() == (
        f"screening: 2 names and 1 BICs from {listed}, SHA-256 {digest}; amount limits none"
    )


def test_a_list_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts the file with one; its digest is the file's as it lies."""
    listed = tmp_path / "sanctions.csv"
    listed.write_bytes(SANCTIONS.encode("utf-8-sig"))
    rules = load_rules(load_settings(environ={"PAYWIRE_SANCTIONS_FILE": str(listed)}))
    assert (len(rules.names), len(rules.bics)) == (2, 1)


@pytest.mark.parametrize(
    "content", ["type,value,source\n", "# exported 2026-11-27\ntype,value,source\n\n"]
)
def test_a_sanctions_file_without_entries_stops_the_start(tmp_path: Path, content: str) -> None:
    """A truncated export would screen nothing, logged at INFO as "0 names and 0 BICs"."""
    listed = tmp_path / "sanctions.csv"
    listed.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no entries"):
        load_rules(load_settings(environ={"PAYWIRE_SANCTIONS_FILE": str(listed)}))


@pytest.mark.parametrize("content", [None, "type,value,source\n"], ids=["missing", "empty"])
def test_a_refused_sanctions_file_is_named_where_it_was_set(
    tmp_path: Path, content: str | None
) -> None:
    """A file the --config file named was refused as PAYWIRE_SANCTIONS_FILE, and the user
    looked for that variable in vain: it is named by its key and the file, and one the
    environment named still by its variable."""
    listed = tmp_path / "sanctions.csv"
    if content is not None:
        listed.write_text(content, encoding="utf-8")
    why = (
        f": [Errno 2] No such file or directory: '{listed}'"
        if content is None
        else " holds no entries; fix the file, or unset the setting to screen by amount limits only"
    )
    for settings, name, where in given_each_way(tmp_path, sanctions_file=listed):
        with pytest.raises(ConfigError) as refused:
            load_rules(settings)
        assert refused.value.message == f"{name('sanctions_file')}='{listed}'{where}{why}"
