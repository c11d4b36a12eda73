"""Great Expectations Data Docs that render offline.

GX's Data Docs load jQuery, Bootstrap, bootstrap-table, Font Awesome, a date picker and Vega from
CDNs and the logo from S3; with no network they are unstyled and the validation table is empty.
:func:`make_offline` copies the very versions GX asks for from ``vendor/node_modules`` (pinned in
``vendor/package-lock.json``, installed by ``npm ci`` during ``make venv``) into the site's
``static/vendor/`` and points every page there, so a site renders from the file system or any
server with the network blocked.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

NODE_MODULES = Path(__file__).resolve().parent / "vendor" / "node_modules"
# CDN address (regex) -> file under node_modules (group references allowed)
ASSETS: list[tuple[str, str]] = [
    (r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js", "jquery/dist/jquery.min.js"),
    (r"https://\w+\.bootstrapcdn\.com/bootstrap/4\.3\.1/(css|js)/(bootstrap\.min\.\w+)",
     r"bootstrap/dist/\1/\2"),
    (r"https://unpkg\.com/bootstrap-table@1\.19\.\d/dist/([\w/.-]+)", r"bootstrap-table/dist/\1"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/1\.12\.9/umd/popper\.min\.js",
     "popper.js/dist/umd/popper.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/6\.6\.0/css/all\.min\.css",
     "@fortawesome/fontawesome-free/css/all.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/(css|js)/([\w.-]+)",
     r"bootstrap-datepicker/dist/\1/\2"),
    (r"https://cdn\.jsdelivr\.net/npm/vega@5", "vega/build/vega.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-lite@5", "vega-lite/build/vega-lite.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-embed@6", "vega-embed/build/vega-embed.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark@1\.1\.0/([\w/.-]+)",
     r"@forevolve/bootstrap-dark/\1"),
]
# whole folders a copied file refers to relatively (Font Awesome's CSS loads ../webfonts/)
COMPANIONS = {"@fortawesome/fontawesome-free/css/all.min.css": "@fortawesome/fontawesome-free/webfonts"}
LOGO = re.compile(r"https://great-expectations-web-assets\.s3[\w.-]*\.amazonaws\.com/[^\"']+")
ATTRIBUTE = re.compile(r"""(?P<attr>\b(?:src|href))=(?P<q>["'])(?P<url>https?://[^"']+)(?P=q)""")
TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.I)
SRI = re.compile(r"""\s+(?:integrity|crossorigin)(?:=(?:"[^"]*"|'[^']*'|[^\s>]+))?""", re.I)


class AssetsMissing(RuntimeError):
    """The vendored assets are not installed: ``make venv`` installs them."""


def _local(url: str) -> str | None:
    for pattern, target in ASSETS:
        match = re.fullmatch(pattern, url)
        if match:
            return match.expand(target)
    return None


def make_offline(site: Path) -> list[str]:
    """Rewrite every page of the Data Docs site at ``site`` to load local copies; return the
    addresses that stay remote (plain links such as GX's homepage, never a loaded asset)."""
    if not NODE_MODULES.is_dir():
        raise AssetsMissing(f"{NODE_MODULES} is missing: Data Docs need their assets locally; "
                            "run `make venv` (npm ci in include/upstream/vendor)")
    vendor = site / "static" / "vendor"
    remote: set[str] = set()
    for page in site.rglob("*.html"):
        prefix = os.path.relpath(vendor, page.parent)
        logo = os.path.relpath(site / "static" / "images" / "logo-long.png", page.parent)

        def replace(match: re.Match, prefix: str = prefix, logo: str = logo) -> str:
            url = match["url"]
            local = _local(url)
            if local is not None:
                _copy(local, vendor)
                return f'{match["attr"]}={match["q"]}{prefix}/{local}{match["q"]}'
            if LOGO.fullmatch(url):
                return f'{match["attr"]}={match["q"]}{logo}{match["q"]}'
            remote.add(url)
            return match.group(0)

        def localise(tag: re.Match) -> str:
            rewritten = ATTRIBUTE.sub(replace, tag.group(0))
            if rewritten != tag.group(0):  # a file:// page may not fetch with CORS (crossorigin)
                rewritten = SRI.sub("", rewritten)
            return rewritten

        text = page.read_text(encoding="utf-8")
        page.write_text(TAG.sub(localise, text), encoding="utf-8")
    return sorted(remote)


def _copy(relative: str, vendor: Path) -> None:
    target = vendor / relative
    if target.exists():
        return
    source = NODE_MODULES / relative
    if not source.is_file():
        raise AssetsMissing(f"{source} is missing from the vendored assets; run `make venv`")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    folder = COMPANIONS.get(relative)
    if folder and not (vendor / folder).exists():
        shutil.copytree(NODE_MODULES / folder, vendor / folder)
