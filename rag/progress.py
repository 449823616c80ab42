"""A progress bar on stderr for long command-line jobs (ingest, evaluation); the CLI edges create it.

    bar = progress_bar("article", enabled=sys.stderr.isatty())
    pipeline.ingest(paths, progress=bar.update if bar else None)
    if bar: bar.close()

It is tqdm (already a dependency) behind the `progress(done, total, label)` callback the library uses, so
library code never imports tqdm or prints.
"""

from __future__ import annotations

import sys
from typing import Any


class ProgressBar:
    """A tqdm bar on stderr driven by `update(done, total, label)` calls."""

    def __init__(self, unit: str, desc: str | None = None) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(total=0, unit=unit, desc=desc, file=sys.stderr, leave=False, dynamic_ncols=True)

    def update(self, done: int, total: int, label: str) -> None:
        """Show `done` of `total`, with `label` (the current item or a running score) after the bar."""
        self._bar.total = total
        self._bar.n = done
        self._bar.set_postfix_str(label, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def progress_bar(unit: str, enabled: bool, desc: str | None = None) -> ProgressBar | None:
    """A ProgressBar when `enabled`, else None (callers pass `bar.update if bar else None`)."""
    return ProgressBar(unit, desc) if enabled else None
