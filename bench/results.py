"""bench/RESULTS.md: one section per benchmark, each rewritten by its own run, the rest kept."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def load_average() -> float:
    """The machine's 1-minute load average: how busy its cores were (2 cores: 2.0 is full)."""
    return round(os.getloadavg()[0], 1)


def measured(command: str, exact: str | None = None) -> str:
    run = f"`{command}` (`{exact}`)" if exact else f"`{command}`"
    return (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}, with {run}; "
        f"load average {load_average()} when written."
    )


def write_section(title: str, body: list[str]) -> None:
    """Replaces the section ``## title`` of RESULTS.md (or adds it), keeping every other section."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    head, *sections = text.split("\n## ")
    kept = [s for s in sections if s.split("\n", 1)[0].strip() != title]
    new = title + "\n\n" + "\n".join(body).rstrip() + "\n"
    ordered = sorted([*kept, new], key=lambda s: s.split("\n", 1)[0])
    RESULTS.write_text(head.rstrip() + "\n\n## " + "\n## ".join(s.rstrip() + "\n" for s in ordered))
