"""Render HTML to PDF with WeasyPrint, fetching nothing from outside the project's packages.

Chinese prints as real, searchable text through the Noto Sans CJK font named in PRINT_CSS
(Debian `fonts-noto-cjk`); fonts are subset through HarfBuzz (`libharfbuzz-subset0`), which is
several times faster than WeasyPrint's fontTools fallback.
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The packages whose static/ and templates/ folders a document may use.
PACKAGES = ("hospital", "scheduling", "queueing", "reports", "kiosk")
ASSET_FOLDERS = frozenset({"static", "templates"})

FONT_STACK = '"Noto Sans CJK SC", "Noto Sans SC", "Noto Sans", "DejaVu Sans", sans-serif'
# Shared print rules; documents add their own @page size (A4 or an 80 mm roll).
PRINT_CSS = f"""
html {{ font-family: {FONT_STACK}; font-size: 10pt; color: #000; }}
body {{ margin: 0; }}
h1, h2, h3 {{ font-weight: bold; margin: 0 0 0.4em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 0.15em 0.3em; vertical-align: top; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
"""


# WeasyPrint logs every rendering step at INFO; at the app's INFO level that is 8 log lines
# per PDF, which costs more than some of the rendering itself. Its warnings still show.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


class PdfRenderError(RuntimeError):
    """The document could not be rendered in time or at all."""


def _allowed_roots() -> list[Path]:
    return [(PROJECT_ROOT / p).resolve() for p in PACKAGES if (PROJECT_ROOT / p).is_dir()]


def local_asset_path(url: str) -> Path | None:
    """Return the file a file: URL names when it lies in a package's static/templates folder."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = Path(unquote(parts.path)).resolve()  # resolve() removes ../ and follows symlinks
    for root in _allowed_roots():
        if path.is_relative_to(root):
            inside = path.relative_to(root).parts[:-1]
            if ASSET_FOLDERS.intersection(inside) and path.is_file():
                return path
    return None


def _fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class PackageOnlyFetcher(URLFetcher):
        """Serve data: URIs and package assets; refuse every other URL."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            path = local_asset_path(url)
            if path is None:
                raise ValueError(f"refused to fetch {url[:80]!r} while rendering a PDF")
            return URLFetcherResponse(path.as_uri(), path.read_bytes())

    return PackageOnlyFetcher


def package_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that reaches neither the network nor files outside the packages."""
    return _fetcher_class()(allowed_protocols=("data", "file"), allow_redirects=False)


# How many distinct document stylesheets stay parsed (a handful of templates use the cache).
STYLESHEET_CACHE_SIZE = 32


class _Typesetter:
    """What every render can share: the parsed print rules and the font configuration.

    Parsing PRINT_CSS and building a FontConfiguration (fontconfig and Pango's font map, with
    their caches of matched and loaded fonts) cost a bare page a third of its time when done
    for every PDF. Pango's font map is not safe to use from two threads at once, so renders
    that share it take turns; they hold the GIL for nearly all their work anyway.

    A document's own stylesheets, passed to render_pdf as `css`, are parsed once per distinct
    text and kept (a document's <style> element is parsed again for every render).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._ready: tuple[Any, Any] | None = None
        self._sheets: dict[str, Any] = {}

    def sheet(self, css: str) -> Any:
        """The parsed stylesheet for css, parsed on first use; call with the lock held."""
        found = self._sheets.get(css)
        if found is None:
            from weasyprint import CSS

            _, font_config = self.shared()
            found = CSS(string=css, url_fetcher=package_only_fetcher(), font_config=font_config)
            if len(self._sheets) >= STYLESHEET_CACHE_SIZE:
                del self._sheets[next(iter(self._sheets))]  # the oldest
            self._sheets[css] = found
        return found

    def shared(self) -> tuple[Any, Any]:
        """(print stylesheet, font configuration); call with the lock held."""
        if self._ready is None:
            from weasyprint import CSS
            from weasyprint.text.fonts import FontConfiguration

            font_config = FontConfiguration()
            stylesheet = CSS(
                string=PRINT_CSS, url_fetcher=package_only_fetcher(), font_config=font_config
            )
            self._ready = (stylesheet, font_config)
        return self._ready


_typesetter = _Typesetter()


def render_pdf(
    html: str,
    *,
    css: tuple[str, ...] = (),
    base_url: str | None = None,
    timeout_s: float = 20,
) -> bytes:
    """Render an HTML document to PDF bytes; raise PdfRenderError after timeout_s seconds.

    `css` holds the document's static stylesheets, applied after PRINT_CSS and parsed once
    for all renders (see _Typesetter); they rank like PRINT_CSS, below the document's own
    <style>, so keep only what changes per document (such as page footers) in the HTML.
    """
    from weasyprint import HTML

    result: dict[str, Any] = {}
    started = time.monotonic()

    def _render() -> None:
        try:
            if not _typesetter.lock.acquire(timeout=timeout_s):
                raise PdfRenderError("another PDF is still rendering")
            try:
                stylesheet, font_config = _typesetter.shared()
                sheets = [stylesheet, *(_typesetter.sheet(text) for text in css)]
                fetcher = package_only_fetcher()
                document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
                result["pdf"] = document.write_pdf(
                    stylesheets=sheets,
                    font_config=font_config,
                    # Never full_fonts: a whole CJK font would make every PDF megabytes.
                    full_fonts=False,
                )
            finally:
                _typesetter.lock.release()
        except BaseException as exc:  # handed to the caller's thread below
            result["error"] = exc

    # WeasyPrint cannot be interrupted; a daemon thread lets the caller give up in time.
    worker = threading.Thread(target=_render, name="render-pdf", daemon=True)
    worker.start()
    worker.join(max(0.0, timeout_s - (time.monotonic() - started)))
    if worker.is_alive():
        raise PdfRenderError(f"rendering the PDF took longer than {timeout_s:g} s")
    if "error" in result:
        raise PdfRenderError(f"could not render the PDF: {result['error']}") from result["error"]
    return result["pdf"]


def _cjk_font_installed() -> bool:
    if shutil.which("fc-list"):
        try:
            found = subprocess.run(
                ["fc-list", "Noto Sans CJK SC", "family"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout
            return "Noto Sans CJK" in found
        except (OSError, subprocess.SubprocessError):
            pass
    patterns = ("/usr/share/fonts/**/NotoSansCJK*", "/usr/share/fonts/**/NotoSansSC*")
    return any(glob.glob(p, recursive=True) for p in patterns)


def _harfbuzz_subset_installed() -> bool:
    if ctypes.util.find_library("harfbuzz-subset"):
        return True
    return any(
        os.path.exists(os.path.join(d, "libharfbuzz-subset.so.0"))
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib")
    )


def font_warnings() -> list[str]:
    """Say what is missing for fast PDFs with real Chinese text (imports no WeasyPrint)."""
    warnings = []
    if not _cjk_font_installed():
        warnings.append(
            "The font 'Noto Sans CJK SC' is missing: Chinese prints as empty boxes in PDFs. "
            "Install the Debian package fonts-noto-cjk."
        )
    if not _harfbuzz_subset_installed():
        warnings.append(
            "libharfbuzz-subset is missing: PDF fonts are subset by a Python fallback about "
            "6 times slower. Install the Debian package libharfbuzz-subset0."
        )
    return warnings
