"""Pseudonymisation: design feeds carry keyed hashes, never CRM ids, names or contacts."""

from __future__ import annotations

import logging
import os
import secrets

from upstream.settings import Settings

log = logging.getLogger(__name__)


def pseudonym_secret(settings: Settings) -> str:
    """The key for customer pseudonyms.

    ``UPSTREAM_PSEUDONYM_SECRET`` in production; for a local project a random key is created
    once under the data folder (never in the repository) so keys stay stable across runs.
    """
    if settings.pseudonym_secret:
        return settings.pseudonym_secret
    path = settings.data_dir / ".secrets" / "pseudonym_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        log.warning("UPSTREAM_PSEUDONYM_SECRET is unset: created a local key at %s", path)
    return path.read_text().strip()


# SQL for a pseudonymous key: sha256 over the secret and the id, bound as parameters so the
# secret never appears in SQL text or logs.
PSEUDONYM_SQL = "sha256(?::varchar || '|' || {column})"
