"""Pseudonymisation and keys: design feeds carry keyed hashes, never CRM ids, names or contacts;
the erasure ledger (upstream.erasure) holds keyed hashes only."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets

from upstream.settings import Settings

log = logging.getLogger(__name__)


def _local_secret(settings: Settings, configured: str | None, name: str, env: str) -> str:
    """``configured`` (from the environment) in production; for a local project a random key
    created once under the data folder (never in the repository), so it stays stable."""
    if configured:
        return configured
    path = settings.data_dir / ".secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        log.warning("%s is unset: created a local key at %s", env, path)
    return path.read_text().strip()


def pseudonym_secret(settings: Settings) -> str:
    """The key for customer pseudonyms (``UPSTREAM_PSEUDONYM_SECRET``); rotating it changes every
    published customer_key."""
    return _local_secret(settings, settings.pseudonym_secret, "pseudonym_secret",
                         "UPSTREAM_PSEUDONYM_SECRET")


def erasure_secret(settings: Settings) -> str:
    """The key of the erasure ledger's hashes (``UPSTREAM_ERASURE_SECRET``). Separate from the
    pseudonym key, so rotating that one never re-admits an erased person."""
    return _local_secret(settings, settings.erasure_secret, "erasure_secret",
                         "UPSTREAM_ERASURE_SECRET")


# SQL for a pseudonymous key: sha256 over the secret and the id, bound as parameters so the
# secret never appears in SQL text or logs; :func:`pseudonym` is the same in Python.
PSEUDONYM_SQL = "sha256(?::varchar || '|' || {column})"


def pseudonym(secret: str, person_id: str) -> str:
    """The published customer_key of a person (what PSEUDONYM_SQL computes)."""
    return hashlib.sha256(f"{secret}|{person_id}".encode()).hexdigest()
