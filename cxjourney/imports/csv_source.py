"""Read a CSV file as a stream: detect its encoding and delimiter, check its header, and
yield its rows one at a time with the line they start on. Never reads the whole file."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, NamedTuple

from flask_babel import lazy_gettext as _l

SAMPLE_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
# The most a single field may hold; longer ones stop the import (csv.Error).
FIELD_SIZE_LIMIT = 128 * 1024
REPLACEMENT = "\ufffd"


# Decoding errors are replaced (the row is then rejected) and counted, so that rows need
# checking for replacement characters only once a decoding error has happened. The count
# is the process's (codec error handlers are global): another import's errors only make
# this one check more rows, never fewer.
COUNTED_REPLACE = "cxjourney-counted-replace"
_DECODING_ERRORS = [0]


def _counted_replace(error: UnicodeError) -> tuple[str | bytes, int]:
    _DECODING_ERRORS[0] += 1
    return codecs.replace_errors(error)


codecs.register_error(COUNTED_REPLACE, _counted_replace)


class CsvFormatError(Exception):
    """The file cannot be read as CSV at all (encoding, header, broken quoting)."""


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # a Python codec name: utf-8-sig, cp1252, utf-16
    delimiter: str


class CsvBatch(NamedTuple):
    """Records of a file in the lean form: parallel lists, no object per row."""

    lines: list[int]  # the line each readable record starts on (the header is line 1)
    values: list[tuple[str, ...]]  # the asked-for columns of each, stripped
    problems: list[tuple[int, str]]  # (line, reason) of the rows that cannot be read


@dataclass(frozen=True)
class CsvRow:
    line: int  # the line the record starts on (the header is line 1)
    values: dict[str, str]  # column → text as it stands in the file (stripped)
    problem: str | None = None  # the row cannot be read (wrong number of fields, bad bytes)


def detect_encoding(sample: bytes) -> str:
    """UTF-16 or UTF-8 by their byte order mark, else UTF-8 if the sample decodes, else
    Windows-1252 (what Excel on German Windows writes as "CSV")."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # Incremental: a character cut off at the end of the sample is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8-sig"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        raise CsvFormatError(
            str(_l("The file is neither UTF-8 nor Windows-1252 text. Save it as UTF-8 CSV."))
        ) from None
    return "cp1252"


def _normalise(name: str) -> str:
    return name.strip().lower()


def _header_fits(line: str, delimiter: str, expected: set[str]) -> int:
    """How many expected columns the header line names when split at ``delimiter``."""
    names = next(csv.reader([line], delimiter=delimiter), [])
    return len(expected & {_normalise(n) for n in names})


def detect_delimiter(text: str, expected: Sequence[str]) -> str:
    """The delimiter among , ; tab | : csv.Sniffer's guess if the header then names the
    expected columns, else the one that splits the header into most of them."""
    lines = text.splitlines()
    header = lines[0] if lines else ""
    wanted = {_normalise(n) for n in expected}
    complete = text[: text.rfind("\n") + 1] or text
    try:
        guess = csv.Sniffer().sniff(complete, delimiters=DELIMITERS).delimiter
    except csv.Error:
        guess = None
    if guess is not None and _header_fits(header, guess, wanted) == len(wanted):
        return guess
    return max(DELIMITERS, key=lambda d: (_header_fits(header, d, wanted), header.count(d)))


class _CountingReader(io.RawIOBase):
    """Counts the bytes handed to the text decoder, for a progress bar over the file size."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.bytes_read += len(data)
        return len(data)


class CsvSource:
    """A CSV file opened for streaming::

    with CsvSource(path, required=[...], optional=[...]) as source:
        for row in source.rows():
            ...
    """

    def __init__(
        self,
        path: str | Path,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.required = tuple(required)
        self.optional = tuple(optional)
        self._encoding = encoding
        self._delimiter = delimiter
        self._file: BinaryIO | None = None
        self._counter: _CountingReader | None = None
        self.format: CsvFormat | None = None
        self.columns: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def bytes_read(self) -> int:
        return self._counter.bytes_read if self._counter else 0

    def __enter__(self) -> CsvSource:
        self._file = self.path.open("rb")
        sample = self._file.read(SAMPLE_BYTES)
        self._file.seek(0)
        encoding = self._encoding or detect_encoding(sample)
        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample)
        delimiter = self._delimiter or detect_delimiter(
            text.lstrip("\ufeff"), self.required + self.optional
        )
        self.format = CsvFormat(encoding, delimiter)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def _check_header(self, names: list[str]) -> tuple[str, ...]:
        columns = tuple(_normalise(n) for n in names)
        missing = [c for c in self.required if c not in columns]
        unknown = [c for c in columns if c not in self.required + self.optional]
        duplicate = sorted({c for c in columns if columns.count(c) > 1})
        if missing or unknown or duplicate:
            parts = []
            if missing:
                parts.append(str(_l("missing columns: %(names)s", names=", ".join(missing))))
            if unknown:
                parts.append(str(_l("unknown columns: %(names)s", names=", ".join(unknown))))
            if duplicate:
                parts.append(str(_l("repeated columns: %(names)s", names=", ".join(duplicate))))
            expected = ", ".join(self.required + self.optional)
            raise CsvFormatError(
                str(_l("Line 1 (header): %(problems)s.", problems="; ".join(parts)))
                + " "
                + str(_l("Expected columns: %(names)s.", names=expected))
            )
        return columns

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """The records after the header with the line each starts on; blank lines skipped."""
        if self._file is None or self.format is None:
            raise RuntimeError("use CsvSource as a context manager")
        self._counter = _CountingReader(self._file)
        buffered = io.BufferedReader(self._counter, buffer_size=SAMPLE_BYTES)
        text = io.TextIOWrapper(
            buffered, encoding=self.format.encoding, errors=COUNTED_REPLACE, newline=""
        )
        csv.field_size_limit(FIELD_SIZE_LIMIT)
        reader = csv.reader(text, delimiter=self.format.delimiter)
        try:
            header = next(reader, None)
            if header is None:
                raise CsvFormatError(str(_l("The file is empty: it needs a header line.")))
            header[0] = header[0].lstrip("\ufeff")
            self.columns = self._check_header(header)
            last_line = reader.line_num
            for record in reader:
                line = last_line + 1
                last_line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                yield line, record
        except csv.Error as exc:
            raise CsvFormatError(
                str(
                    _l(
                        "Line %(line)d: the CSV is malformed (%(error)s).",
                        line=reader.line_num,
                        error=str(exc),
                    )
                )
            ) from None

    def rows(self) -> Iterator[CsvRow]:
        """Yield the records after the header, one by one; blank lines are skipped."""
        for line, record in self._records():
            yield self._row(line, record)

    def batches(self, columns: Sequence[str], size: int) -> Iterator[CsvBatch]:
        """Yield the records in batches of ``size``, each record as a tuple of ``columns``
        (stripped) whatever the file's column order: the lean form of ``rows`` for files of
        millions of rows (no object per row)."""
        errors_before = _DECODING_ERRORS[0]
        records = self._records()
        first = next(records, None)  # reads the header, so self.columns is known
        if first is None:
            return
        width = len(self.columns)
        positions = [self.columns.index(c) for c in columns]
        pick = itemgetter(*positions) if len(positions) > 1 else lambda r: (r[positions[0]],)
        delimiter = self.format.delimiter if self.format else ","
        strip = str.strip
        batch = CsvBatch([], [], [])
        for line, record in itertools.chain((first,), records):
            if len(record) != width or (
                _DECODING_ERRORS[0] != errors_before and REPLACEMENT in delimiter.join(record)
            ):
                batch.problems.append((line, self._row(line, record).problem or ""))
            else:
                batch.lines.append(line)
                batch.values.append(tuple(map(strip, pick(record))))
            if len(batch.lines) + len(batch.problems) >= size:
                yield batch
                batch = CsvBatch([], [], [])
        if batch.lines or batch.problems:
            yield batch

    def _row(self, line: int, record: list[str]) -> CsvRow:
        if len(record) != len(self.columns):
            return CsvRow(
                line,
                {},
                str(
                    _l(
                        "Expected %(expected)d fields, found %(found)d.",
                        expected=len(self.columns),
                        found=len(record),
                    )
                ),
            )
        values = {name: value.strip() for name, value in zip(self.columns, record, strict=True)}
        if any(REPLACEMENT in v for v in values.values()):
            return CsvRow(
                line,
                values,
                str(
                    _l(
                        "The line holds bytes that are not %(encoding)s text.",
                        encoding=self.format.encoding if self.format else "",
                    )
                ),
            )
        return CsvRow(line, values)
