"""Loads the screening rules: PAYWIRE_SANCTIONS_FILE and PAYWIRE_AMOUNT_LIMITS.

Read once when the pipeline starts; a file that cannot be read or parsed stops the start.
"""

from __future__ import annotations

import hashlib
import logging

from paywire.config import Settings
from paywire.domain.screening import ScreeningRules, parse_sanctions_csv
from paywire.errors import ConfigError

log = logging.getLogger(__name__)


def load_rules(settings: Settings) -> ScreeningRules:
    """The rules, and a log line saying what they hold: a gateway screening against no list at
    all must say so where operators look, not pass every payment in silence."""
    limits = dict(settings.amount_limits)
    if settings.sanctions_file is None:
        rules = parse_sanctions_csv("type,value,source\n", limits)
        log.warning(
            "screening without a sanctions list: PAYWIRE_SANCTIONS_FILE is not set, so only "
            "amount limits (%s) hold payments",
            _limits(rules),
        )
        return rules
    # Named where it was set: the --config file's key, else the variable.
    named = settings.named_value("sanctions_file")
    try:
        raw = settings.sanctions_file.read_bytes()
        # utf-8-sig: a byte order mark (Excel's "CSV UTF-8") is not part of the header.
        rules = parse_sanctions_csv(raw.decode("utf-8-sig"), limits)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{named}: {exc}") from None
    if not len(rules.names) and not rules.bics:
        # A truncated export, say: nothing would be screened, and nobody told.
        raise ConfigError(
            f"{named} holds no entries; fix the file, or unset the setting to screen by amount"
            " limits only"
        )
    log.info(
        "screening: %d names and %d BICs from %s, SHA-256 %s; amount limits %s",
        len(rules.names),
        len(rules.bics),
        settings.sanctions_file,
        hashlib.sha256(raw).hexdigest(),
        _limits(rules),
    )
    return rules


def _limits(rules: ScreeningRules) -> str:
    return ", ".join(f"{c}={a}" for c, a in sorted(rules.limits.items())) or "none"
