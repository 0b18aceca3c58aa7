"""What a benchmark's numbers were measured on, and how busy the machine was meanwhile: the head
of every table in RESULTS.md."""

from __future__ import annotations

import datetime
import os
import ssl
import sys
from pathlib import Path

import uvloop


def describe() -> str:
    cpu = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    )
    ram_kb = int(Path("/proc/meminfo").read_text().split()[1])
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; {cpu}, {os.cpu_count()} cores, {ram_kb / 1024 / 1024:.0f} GiB RAM; Python "
        f"{sys.version.split()[0]}, uvloop {uvloop.__version__}, {ssl.OPENSSL_VERSION}; "
        f"load average {load}"
    )
