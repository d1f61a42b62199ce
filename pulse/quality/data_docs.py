"""Data Docs that work offline (docs/data_docs.md).

GX's pages load jQuery, Bootstrap and bootstrap-table from public CDNs; the index builds
its table of validations with them, so without internet it shows no link at all. After
each build, `make_offline` copies the assets into the site's `static/vendor/` and points
every page at them:

- jQuery and Bootstrap 4 come from Python packages (xstatic-jquery, xstatic-bootstrap; the
  Bootstrap bundle includes Popper);
- bootstrap-table with its filter-control extension, and the bootstrap date picker that
  extension calls, which no Python package ships in the versions GX asks for, are
  vendored in pulse/quality/vendor/ (MIT and Apache-2.0, licenses beside them);
- what only decorates (Font Awesome icons, vega charts of profiling pages, the dark
  theme) is dropped, so no page waits on a host it cannot reach;
- a reference into the site's static/ folder that GX got one folder wrong (the favicon of
  validation pages) is pointed at the file.

A CDN address not listed here is left as it is; the tests fail on it, so a GX upgrade that
adds one is noticed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from pulse.config import settings

VENDOR_DIR = Path(__file__).parent / "vendor" / "bootstrap-table-1.19.1"
DATEPICKER_DIR = Path(__file__).parent / "vendor" / "bootstrap-datepicker-1.9.0"


def data_docs_dir() -> Path:
    """Where this warehouse's Data Docs site is written (under PULSE_DATA_DIR)."""
    return settings().data_dir / "quality" / "data_docs"
SITE_VENDOR = Path("static") / "vendor"


def _xstatic(module: str) -> Path:
    import importlib

    return Path(importlib.import_module(f"xstatic.pkg.{module}").BASE_DIR)


def _sources() -> dict[str, Path]:
    """file name in static/vendor/ -> where it comes from"""
    bootstrap = _xstatic("bootstrap")
    return {
        "jquery.min.js": _xstatic("jquery") / "jquery.min.js",
        "bootstrap.bundle.min.js": bootstrap / "js" / "bootstrap.bundle.min.js",
        "bootstrap.min.css": bootstrap / "css" / "bootstrap.min.css",
        "bootstrap-table.min.js": VENDOR_DIR / "bootstrap-table.min.js",
        "bootstrap-table.min.css": VENDOR_DIR / "bootstrap-table.min.css",
        "bootstrap-table-filter-control.min.js":
            VENDOR_DIR / "bootstrap-table-filter-control.min.js",
        "bootstrap-table-filter-control.min.css":
            VENDOR_DIR / "bootstrap-table-filter-control.min.css",
        "bootstrap-table.LICENSE": VENDOR_DIR / "LICENSE",
        "bootstrap-datepicker.min.js": DATEPICKER_DIR / "bootstrap-datepicker.min.js",
        "bootstrap-datepicker.min.css": DATEPICKER_DIR / "bootstrap-datepicker.min.css",
        "bootstrap-datepicker.LICENSE": DATEPICKER_DIR / "LICENSE",
    }


# CDN address GX's templates use -> the local file, or None: the tag is dropped
_BT = "https://unpkg.com/bootstrap-table@"
REWRITES: dict[str, str | None] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap.bundle.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": None,
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap.min.css",
    f"{_BT}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table.min.js",
    f"{_BT}1.19.1/dist/bootstrap-table.min.css": "bootstrap-table.min.css",
    f"{_BT}1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
        "bootstrap-table-filter-control.min.js",
    f"{_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
        "bootstrap-table-filter-control.min.css",
    f"{_BT}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
        "bootstrap-table-filter-control.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": None,
    "https://cdn.jsdelivr.net/npm/vega-lite@5": None,
    "https://cdn.jsdelivr.net/npm/vega-embed@6": None,
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": None,
    # the filter-control extension draws the index's run-time filter with it
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": None,
}

# a <script src=...></script> or a <link ... href=...> naming an http(s) address
_TAG = re.compile(
    r"""<script\b[^>]*\bsrc=["'](?P<s>https?://[^"']+)["'][^>]*>\s*</script>"""
    r"""|<link\b[^>]*\bhref=["'](?P<l>https?://[^"']+)["'][^>]*>""", re.IGNORECASE)
_SRI = re.compile(r"""\s+(?:integrity|crossorigin)=["'][^"']*["']""", re.IGNORECASE)


# a relative reference into the site's static/ folder
_STATIC_REF = re.compile(r"""(?P<attr>\b(?:src|href)=["'])(?P<ref>(?:\./|\.\./)*static/[^"'#?]+)""")


def _rewrite_page(page: Path, site: Path) -> bool:
    text = page.read_text(encoding="utf-8")
    prefix = os.path.relpath(site / SITE_VENDOR, page.parent).replace(os.sep, "/")

    def replace(m: re.Match[str]) -> str:
        url = m.group("s") or m.group("l")
        if url not in REWRITES:
            return m.group(0)
        local = REWRITES[url]
        if local is None:
            return ""
        # integrity hashes name the CDN's bytes; the local copy is another file
        return _SRI.sub("", m.group(0)).replace(url, f"{prefix}/{local}")

    def repair(m: re.Match[str]) -> str:
        # GX counts one folder too few for the favicon of validation pages: point a
        # static/ reference that resolves to nothing at the site's static/ folder
        ref = m.group("ref")
        if (page.parent / ref).exists():
            return m.group(0)
        tail = ref[ref.index("static/"):]
        if not (site / tail).exists():
            return m.group(0)
        fixed = os.path.relpath(site / tail, page.parent).replace(os.sep, "/")
        return m.group("attr") + fixed

    new = _STATIC_REF.sub(repair, _TAG.sub(replace, text))
    if new == text:
        return False
    page.write_text(new, encoding="utf-8")
    return True


def make_offline(site: Path) -> int:
    """Copy the assets into `site` and rewrite its pages; returns the pages changed.
    Idempotent: a page already rewritten is left alone."""
    if not (site / "index.html").exists():
        return 0
    vendor = site / SITE_VENDOR
    vendor.mkdir(parents=True, exist_ok=True)
    for name, source in _sources().items():
        target = vendor / name
        if not target.exists() or target.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, target)
    return sum(_rewrite_page(p, site) for p in sorted(site.rglob("*.html")))
