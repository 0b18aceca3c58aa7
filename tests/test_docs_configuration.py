"""docs/CONFIGURATION.md lists every setting, each once, with the default the code has."""

from __future__ import annotations

import re
from pathlib import Path

from paywire.config import SETTING_FIELDS, Settings, env_name

PAGE = Path(__file__).resolve().parents[1] / "docs" / "CONFIGURATION.md"
ROW = re.compile(r"^\| `(?P<name>[A-Z0-9_]+)` \| (?P<default>[^|]+) \|", re.MULTILINE)


def rows() -> dict[str, str]:
    found: dict[str, str] = {}
    for match in ROW.finditer(PAGE.read_text(encoding="utf-8")):
        assert match["name"] not in found, f"{match['name']} is listed twice"
        found[match["name"]] = match["default"].strip()
    return found


def test_every_setting_is_documented_and_nothing_else() -> None:
    settings = {env_name(field.name) for field in SETTING_FIELDS}
    assert set(rows()) == settings


def test_each_documented_default_is_the_codes() -> None:
    """A default in backquotes is the value itself; one in words (`none`, `unset: …`) stands for
    a setting the code leaves empty."""
    defaults = Settings()
    for field in SETTING_FIELDS:
        written = rows()[env_name(field.name)]
        value = getattr(defaults, field.name)
        if value in (None, ()):
            assert not written.startswith("`"), (field.name, written)
            continue
        shown = re.match(r"`([^`]*)`", written)
        assert shown is not None, (field.name, written)
        expected = str(value).removeprefix("./")
        assert shown.group(1).removeprefix("./") in (expected, expected.removesuffix(".0")), (
            field.name,
            written,
        )
