"""Ingest: source files -> canonical records in date partitions, rejected lines in quarantine.

Two phases, so that a failure leaves the warehouse as it was:

1. Stage (`stage`). Each new source file (not in the ledger) is read in chunks through its format's adapter
   and the shared transform into a local staging folder partitioned by UTC day; rejected records go, with
   their reasons, to a per-file quarantine file; lines that yield no record by design are counted as ignored.
2. Commit. The dedupe (`dedupe`) finds, across everything stored and staged, the records that give way to
   another with the same key; the commit (`commit`) rewrites each changed day from its stored rows plus its
   new ones and replaces it atomically, then publishes each file's quarantine and ledger entry.

A line yields one record or several (an OTel export holds many spans, an OpenRouter generation its failed
provider attempts), each keeping the line's number. Every record is counted once (`report`):
records = written + duplicates + quarantined + ignored, per file and per run, and every line read must have
yielded at least one of them. A file whose counts do not add up, or with a line that yielded nothing, is
never marked done.

The entry points: `ingest` (`run`) does both phases in one process under the warehouse lock; `stage_batch`
and `commit_staged` (`batches`) split them, so that parallel workers stage batches in the warehouse
(`WAREHOUSE/_staging/`) and one writer commits them.
"""

from pipelines.lib.ingest.batches import MANIFEST, commit_staged, stage_batch, staged_batches
from pipelines.lib.ingest.report import FileReport, IngestReport, UnreadableSourceError
from pipelines.lib.ingest.run import ingest
from pipelines.lib.ingest.stage import QUARANTINED_BEFORE, connect

__all__ = [
    "MANIFEST",
    "QUARANTINED_BEFORE",
    "FileReport",
    "IngestReport",
    "UnreadableSourceError",
    "commit_staged",
    "connect",
    "ingest",
    "stage_batch",
    "staged_batches",
]
