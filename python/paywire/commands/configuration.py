"""The settings of a command, read once as it starts, and a warning on standard error for every
PAYWIRE_ variable that sets nothing, so that a misspelt setting does not pass for its default."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Collection
from typing import Any

from paywire.config import Settings, load_settings, unknown_variables


def load(args: argparse.Namespace, *, unused: Collection[str] = (), **overrides: Any) -> Settings:
    """The settings from the environment and `--config`, but for the `unused` ones
    (`load_settings`); warned about first, so the warnings also come before a refusal they may
    explain (a required setting missing because misspelt)."""
    for name, suggestion in unknown_variables(os.environ).items():
        hint = f"did you mean {suggestion}?" if suggestion else "docs/CONFIGURATION.md lists them"
        print(f"paywire: warning: {name} is not a setting and is ignored; {hint}", file=sys.stderr)
    return load_settings(config_file=args.config, unused=unused, **overrides)
