"""What an ingest did: one `FileReport` per source file, summed up in an `IngestReport`.

The reports are filled in as the phases run (staging counts lines, records, quarantined and ignored rows; the
commit counts written, duplicates, conflicts and stored records replaced), travel in a staged batch's manifest,
and end up as the file's ledger entry and the asset's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Why a line counts as ignored when an earlier read of its file already quarantined it (a grown file read again
#: from a line that had no newline yet): it is not quarantined twice.
QUARANTINED_BEFORE = "quarantined by an earlier read of the file"
#: ... and why a line an earlier read quarantined counts as ignored there once a later read completed it.
COMPLETED_LATER = "completed by a later read of the file"


@dataclass
class FileReport:
    """What happened to one source file."""

    url: str
    key: str
    size: int
    source_format: str | None = None
    lines: int = 0
    records: int = 0
    written: int = 0
    duplicates: int = 0
    quarantined: int = 0
    ignored: int = 0
    conflicts: int = 0  # records whose key was already used by a record with other content (see dedupe)
    replaced: int = 0  # stored records that gave way to one of this file's (same key, other content; see dedupe)
    uncovered: int = 0  # lines that yielded no row at all (an adapter bug); must stay 0
    hash_key_id: str | None = None  # the public id of the key that hashed the file's user ids (see privacy)
    first_line: int = 1  # where reading began: past 1 when an earlier version of the file was read (it grew)
    prior_through_line: int = 0  # the last line an earlier version of the file counted (0: none was read)
    #: The ledger key whose quarantine holds the row of the line the earlier read ended inside, if it quarantined it
    #: (that read's own, or, where reads met the line unfinished again and again, the first one's)
    prior_partial_key: str | None = None
    partial_key: str | None = None  # ... the same, for this read, set by the commit (`commit.partial_key`)
    read_mark: dict[str, Any] | None = None  # how far the file was read (reader.ReadMark), to resume from
    read_by: str | None = None  # "bulk": parsed whole by DuckDB's read_json; "lines": read line by line
    ignored_reasons: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    error: str | None = None

    @property
    def balanced(self) -> bool:
        """Every line yielded a row (none uncovered in its batch, and no fewer records than lines: a line read but
        never staged counts), and every row is written, a duplicate, quarantined or ignored."""
        outcomes = self.written + self.duplicates + self.quarantined + self.ignored
        return self.uncovered == 0 and self.records >= self.lines and self.records == outcomes

    @property
    def finished(self) -> bool:
        """Read in this run (not skipped as already ingested, not failed): its ledger entry is to be written."""
        return not self.skipped and not self.error

    @property
    def completes_prior_line(self) -> bool:
        """The earlier read of the file ended inside a line (its last, without a newline yet), which this read
        read again (`prior_through_line`) and did not find unfinished and refused again (QUARANTINED_BEFORE): the
        line is stored, or quarantined for what it holds now, and the earlier read's quarantine row of it, if any,
        is stale (the commit removes it: `commit.drop_completed_line`)."""
        rejected_again = self.ignored_reasons.get(QUARANTINED_BEFORE, 0)
        resumed = self.first_line > 1 and self.prior_through_line >= self.first_line
        return self.prior_partial_key is not None and resumed and not rejected_again

    def count_ignored(self, reason: str, count: int) -> None:
        """Count `count` rows ignored for `reason` (a line that holds no record by design)."""
        if count:
            self.ignored += count
            self.ignored_reasons[reason] = self.ignored_reasons.get(reason, 0) + count

    def reset(self) -> None:
        """Forget what a read of the file counted (it is read again another way)."""
        self.lines = self.records = self.quarantined = self.ignored = self.uncovered = 0
        self.ignored_reasons = {}
        self.read_mark = self.read_by = None

    def fail(self, error: Exception) -> None:
        """Mark the file unreadable and forget what its partial read counted."""
        self.error = f"{type(error).__name__}: {error}".strip().rstrip(":")
        self.reset()


@dataclass
class IngestReport:
    """What one ingest run did, per file and in total."""

    files: list[FileReport] = field(default_factory=list)
    #: Files of the sources' folders and globs left out because their names are not log files (`list_files`).
    skipped_by_name: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    bytes_written: int = 0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files if f.finished)

    @property
    def lines(self) -> int:
        return self.total("lines")

    @property
    def records(self) -> int:
        return self.total("records")

    @property
    def written(self) -> int:
        return self.total("written")

    @property
    def duplicates(self) -> int:
        return self.total("duplicates")

    @property
    def quarantined(self) -> int:
        return self.total("quarantined")

    @property
    def ignored(self) -> int:
        return self.total("ignored")

    @property
    def skipped_files(self) -> int:
        return sum(f.skipped for f in self.files)

    @property
    def balanced(self) -> bool:
        return all(f.balanced for f in self.files)

    def extend(self, other: IngestReport) -> None:
        """Add another run's files, days and bytes to this report (one report for staged and fresh files)."""
        self.files += other.files
        self.skipped_by_name += other.skipped_by_name
        self.days = sorted(set(self.days) | set(other.days))
        self.bytes_written += other.bytes_written

    def add_days(self, bytes_by_day: dict[str, int]) -> None:
        """Count partitions just written: their days (each once) and their bytes."""
        self.days = sorted(set(self.days) | set(bytes_by_day))
        self.bytes_written += sum(bytes_by_day.values())

    def raise_for_unreadable(self) -> None:
        """Raise `UnreadableSourceError` when some files could not be read (after the others were done)."""
        if failed := [f for f in self.files if f.error]:
            raise UnreadableSourceError(self, failed)

    def summary(self) -> dict[str, Any]:
        return {
            "files": len(self.files) - self.skipped_files,
            "files_skipped": self.skipped_files,
            "files_failed": sum(bool(f.error) for f in self.files),
            "files_skipped_by_name": len(self.skipped_by_name),
            "lines": self.lines,
            "records": self.records,
            "written": self.written,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "ignored": self.ignored,
            "conflicts": self.total("conflicts"),
            "replaced": self.total("replaced"),
            "days_touched": len(self.days),
            "bytes_written": self.bytes_written,
        }


class UnreadableSourceError(RuntimeError):
    """Some files could not be read; the others were ingested. The failed ones stay out of the ledger."""

    def __init__(self, report: IngestReport, failed: list[FileReport]) -> None:
        self.report = report
        listed = "; ".join(f"{f.url} ({f.error})" for f in failed)
        super().__init__(f"{len(failed)} of {len(report.files)} file(s) could not be read: {listed}")
