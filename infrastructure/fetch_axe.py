"""Brings axe-core's ``axe.min.js`` for the browser test: the npm package at a pinned version,
fetched with npm (the registry's ordinary client) and checked against its pinned integrity hash
before anything is unpacked. Not committed: about 550 KB, rebuilt into ``build/axe`` on demand.

    python -m infrastructure.fetch_axe VERSION INTEGRITY
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "build" / "axe"


def fetch(version: str, integrity: str, target: Path = TARGET) -> Path:
    script = target / f"axe-{version}.min.js"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to fetch axe-core for the accessibility test (apt-get install npm)")
    algorithm, _, expected = integrity.partition("-")
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
            [npm, "pack", f"axe-core@{version}", "--silent", "--pack-destination", folder],
            check=True,
            capture_output=True,
        )
        tarball = Path(folder) / f"axe-core-{version}.tgz"
        digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
        if digest != expected:
            raise SystemExit(
                f"axe-core {version}: the package's {algorithm} is {digest}, not the pinned {expected}"
            )
        with tarfile.open(tarball) as archive:
            member = archive.extractfile("package/axe.min.js")
            if member is None:
                raise SystemExit("axe-core's package has no axe.min.js")
            target.mkdir(parents=True, exist_ok=True)
            script.write_bytes(member.read())
    return script


if __name__ == "__main__":
    print(fetch(sys.argv[1], sys.argv[2]))
