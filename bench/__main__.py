"""`python -m bench [...]`: the same as `rag bench [...]` (settings from RAG_* and rag.toml)."""

from __future__ import annotations

import argparse
import sys

from bench.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="newsrag benchmarks (see `rag bench -h`)"
    )
    add_arguments(parser)
    parser.add_argument("--config", metavar="FILE", help="TOML config file")
    args = parser.parse_args()
    from rag.settings import load_settings

    return run(args, load_settings(config=args.config))


if __name__ == "__main__":
    sys.exit(main())
