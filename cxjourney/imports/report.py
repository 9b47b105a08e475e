"""Rejected rows of an import: written to a CSV report as they occur, and summarised.

Only counts and the first few rejections stay in memory, however many rows are rejected.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from ..complaints.csv_export import neutralise

SHOWN = 10  # rejections echoed on the console; the report file has all of them
REPORT_COLUMNS = ("line", "column", "reason")


@dataclass(frozen=True)
class Rejection:
    line: int
    column: str  # the CSV column, or "" for the whole row
    reason: str


@dataclass
class ImportReport:
    """Collects the outcome of an import; opens the report file at the first rejection."""

    path: Path
    loaded: int = 0
    rejected_rows: int = 0
    first: list[Rejection] = field(default_factory=list)
    _handle: TextIO | None = None
    _writer: Any = None

    def __enter__(self) -> ImportReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def reject(self, line: int, problems: dict[str, str]) -> None:
        """Record one rejected row with its problems per column ("" for the row)."""
        self.rejected_rows += 1
        for column, reason in problems.items():
            rejection = Rejection(line, column, reason)
            if len(self.first) < SHOWN:
                self.first.append(rejection)
            self._write(rejection)

    def _write(self, rejection: Rejection) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # utf-8-sig: Excel opens it with umlauts intact.
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
            writer = csv.writer(self._handle)
            writer.writerow(REPORT_COLUMNS)
            self._writer = writer
        self._writer.writerow(
            [rejection.line, neutralise(rejection.column), neutralise(rejection.reason)]
        )

    @property
    def written(self) -> bool:
        return self._handle is not None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def summary(self) -> str:
        return f"loaded {self.loaded}, rejected {self.rejected_rows}"


def default_report_path(source: Path) -> Path:
    """``data.csv`` → ``data.rejected.csv`` next to it."""
    return source.with_name(f"{source.stem}.rejected.csv")
