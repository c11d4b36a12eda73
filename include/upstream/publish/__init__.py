"""Write-audit-publish of the designers' database, as immutable versions.

Layout under ``published/``::

    versions/v000007/design.duckdb       the designers' database (never modified)
    versions/v000007/feeds/<table>.parquet
    versions/v000007/manifest.json       version, run, interval, git revision, counts, checksums, gate
    versions/v000007/gate.json           the gate's full results
    current -> versions/v000007          swapped atomically (a new symlink renamed over it)
    design.duckdb -> current/design.duckdb
    manifest.json -> current/manifest.json
    history.jsonl                        every publish and rollback, with who and why

1. :func:`build_candidate` copies the feeds from the warehouse into ``.candidates/`` with a
   ``publication`` table (version, run, interval, newest source data).
2. :mod:`upstream.gate` validates it and writes ``<candidate>.gate.json``.
3. :func:`publish_candidate` refuses a candidate without a passing gate record for exactly its
   bytes, writes the version folder under a temporary name, renames it into place, then
   repoints ``current``. A crash in between leaves the old version current; the next run's
   :func:`repair` removes what no history line published.

Readers open ``design.duckdb`` read-only: the open resolves to one immutable file, so they never
see a lock, a half-written file or two versions mixed; a reader holding an old version keeps it.

The package: :mod:`.feeds` (what is published, from the dbt project), :mod:`.candidate`
(building and discarding a candidate) and :mod:`.store` (versions, the atomic swap, history,
repair, prune, rollback).
"""

from upstream.publish.candidate import build_candidate, discard_candidate
from upstream.publish.feeds import Feed, feed_names, published_feeds
from upstream.publish.store import (
    Candidate,
    PublicationError,
    PublishRefused,
    append_history,
    current_manifest,
    current_version,
    history,
    list_versions,
    prune,
    publication_lock,
    publish_candidate,
    published_versions,
    read_manifest,
    repair,
    rollback,
    version_name,
)

__all__ = ["Candidate", "Feed", "PublicationError", "PublishRefused", "append_history",
           "build_candidate", "current_manifest", "current_version", "discard_candidate",
           "feed_names", "history", "list_versions", "prune", "publication_lock",
           "publish_candidate", "published_feeds", "published_versions", "read_manifest",
           "repair", "rollback", "version_name"]
