"""Loads the screening rules: PAYWIRE_SANCTIONS_FILE and PAYWIRE_AMOUNT_LIMITS.

Read once when the pipeline starts; a file that cannot be read or parsed stops the start.
"""

from __future__ import annotations

from paywire.config import Settings
from paywire.domain.screening import ScreeningRules, parse_sanctions_csv
from paywire.errors import ConfigError


def load_rules(settings: Settings) -> ScreeningRules:
    limits = dict(settings.amount_limits)
    if settings.sanctions_file is None:
        return parse_sanctions_csv("type,value,source\n", limits)
    try:
        content = settings.sanctions_file.read_text(encoding="utf-8")
        return parse_sanctions_csv(content, limits)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"PAYWIRE_SANCTIONS_FILE={settings.sanctions_file}: {exc}") from None
