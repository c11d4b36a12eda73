"""Landing discovery: which files a source delivered for a day, each claimed by one contract.

Every refusal message ends with what to do next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from upstream.contracts import Contract, contracts_for, with_vocabularies
from upstream.settings import Settings

log = logging.getLogger(__name__)


class LandingError(RuntimeError):
    """A landing folder or file cannot be loaded; the message names it."""


# What to do after a refusal: every LandingError message ends with one of these.
REDELIVER = ("Next: ask the source to re-deliver a corrected file under the same name (it "
             "replaces this version), then clear the failed task; files already loaded are "
             "skipped.")
DELIVER_MISSING = ("Next: deliver the missing file (header-only if nothing happened that day), "
                   "then clear the failed task.")
RENAME = ("Next: rename the file to match a contract's pattern, move it out of the landing "
          "folder, or add a contract in include/upstream/contracts/; then clear the failed task.")
REPLACE_LINK = ("Next: replace it with the regular file itself (copy, not link), then clear the "
                "failed task.")


@dataclass(frozen=True)
class DayDelivery:
    """One source's landing folder for one day: files matched to contracts, and what is wrong."""

    folder: Path
    files: list[tuple[Contract, Path]]
    problems: list[str]  # each names the folder or file and ends with what to do next


# an intraday micro-batch's readiness markers (upstream.intraday), not data
MARKERS = frozenset({"_READY", "_QUEUED"})


def _is_ignored(path: Path) -> bool:
    """Hidden files and ``*.tmp`` are a sender's work in progress, not a delivery; a batch's
    readiness marker is not data."""
    return path.name.startswith(".") or path.name.endswith(".tmp") or path.name in MARKERS


def _entry_problem(path: Path, root: Path) -> str | None:
    """Why a folder entry cannot be a landing file: only regular files inside the landing root
    are read (a symbolic link could expose any file of the machine, e.g. a secret)."""
    if path.is_symlink():
        return (f"{path} is a symbolic link; landing files must be regular files inside "
                f"{root} and links are never followed. {REPLACE_LINK}")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        return f"{path} is {kind}; a day folder holds files only. {RENAME}"
    if not path.resolve().is_relative_to(root):
        return f"{path} lies outside the landing root {root}. {REPLACE_LINK}"
    return None


def claim_files(settings: Settings, source: str, day: date,
                batch: Path | None = None) -> DayDelivery:
    """Match every file of ``source`` for ``day`` to exactly one contract, collecting problems:
    a missing folder, a folder that is not one (a file, a link out of the landing root), an
    entry that is not a regular file, a file no contract or two contracts claim, a required
    contract without a file. Contracts come with their seed vocabularies resolved.

    ``batch``: an intraday micro-batch folder of that day instead of the day folder; a batch
    delivers whichever of the source's files it has (no contract is required)."""
    root = settings.landing_dir.resolve()
    folder = batch or settings.landing_dir / source / day.isoformat()
    if folder.is_symlink() or (folder.exists() and not folder.resolve().is_relative_to(root)):
        return DayDelivery(folder, [], [f"{folder} is a link or lies outside the landing root "
                                        f"{root}; day folders must be real folders inside it. "
                                        f"{REPLACE_LINK}"])
    if folder.exists() and not folder.is_dir():
        return DayDelivery(folder, [], [f"{folder} is a file, not a folder; source {source!r} "
                                        f"delivers a folder per day. {DELIVER_MISSING}"])
    if not folder.is_dir():
        return DayDelivery(folder, [], [f"no landing folder for source {source!r} on {day}: "
                                        f"{folder} does not exist. {DELIVER_MISSING}"])
    seeds = settings.dbt_project_dir / "seeds"
    contracts = [with_vocabularies(c, seeds) for c in contracts_for(source)]
    found: list[tuple[Contract, Path]] = []
    problems: list[str] = []
    for path in sorted(p for p in folder.iterdir() if not _is_ignored(p)):
        problem = _entry_problem(path, root)
        if problem:
            problems.append(problem)
            continue
        claims = [c for c in contracts if c.matches(path.name)]
        if len(claims) == 1:
            found.append((claims[0], path))
        else:
            patterns = [c.pattern for c in contracts]
            problems.append(f"{path}: {'no' if not claims else 'more than one'} contract of "
                            f"source {source!r} matches this file (patterns {patterns}). {RENAME}")
    for contract in contracts if batch is None else ():
        if not contract.optional and not any(c is contract for c, _ in found):
            problems.append(f"{folder}: no file matching {contract.pattern!r}; source "
                            f"{source!r} must deliver one for {day} (contract {contract.name}). "
                            f"{DELIVER_MISSING}")
    return DayDelivery(folder, found, problems)


def landing_files(settings: Settings, source: str, day: date,
                  batch: Path | None = None) -> list[tuple[Contract, Path]]:
    """Every file of ``source`` for ``day`` (or of an intraday ``batch`` of that day), each
    matched to exactly one contract; the first problem (see :func:`claim_files`) is raised as
    :class:`LandingError`."""
    delivery = claim_files(settings, source, day, batch)
    if delivery.problems:
        raise LandingError(delivery.problems[0])
    return delivery.files
