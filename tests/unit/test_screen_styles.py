"""Every screen uses the design system: no inline styles, no <style> blocks, colours only as tokens.

The look of a page lives in hospital/web/static/css (hospital.css, board.css) and the kiosk's
kiosk.css, built on design tokens (custom properties). A template that styles itself, or a rule
that names its own colour, drifts from the rest and escapes elder mode's stronger palette.
Print templates rendered to PDF carry their own small stylesheets (the PDF engine reads no site
CSS) and are listed here explicitly.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIRS = ("hospital", "scheduling", "queueing", "journey", "kiosk", "reports", "consult")
PRINT_TEMPLATES = {
    "hospital/billing/templates/billing/receipt_pdf.html",
    "hospital/billing/templates/billing/reconciliation_pdf.html",
    "hospital/cards/templates/cards/card_pdf.html",
    "kiosk/templates/kiosk/ticket_pdf.html",
    "reports/templates/reports/report_pdf.html",
    "reports/templates/reports/statistics_pdf.html",
}
STYLESHEETS = (
    "hospital/web/static/css/hospital.css",
    "hospital/web/static/css/board.css",
    "kiosk/static/kiosk/kiosk.css",
)
INLINE_STYLE = re.compile(r"<[a-zA-Z][^>]*\sstyle\s*=", re.S)
STYLE_BLOCK = re.compile(r"<style\b", re.I)
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b")
NAMED_COLOUR = re.compile(
    r":\s*(?:[^;{}]*\s)?(white|black|red|blue|green|yellow|orange|grey|gray)\b", re.I
)


def screen_templates() -> list[str]:
    found = []
    for package in PACKAGE_DIRS:
        for path in sorted((ROOT / package).rglob("templates/**/*.html")):
            relative = path.relative_to(ROOT).as_posix()
            if relative not in PRINT_TEMPLATES:
                found.append(relative)
    return found


def test_the_print_templates_listed_exist() -> None:
    missing = [name for name in PRINT_TEMPLATES if not (ROOT / name).is_file()]
    assert not missing, missing


def test_there_are_screen_templates_to_check() -> None:
    names = screen_templates()
    assert len(names) > 40
    assert "queueing/templates/queueing/board.html" in names
    assert "kiosk/templates/kiosk/kiosk.html" in names


@pytest.mark.parametrize("name", screen_templates())
def test_a_screen_template_has_no_inline_style_and_no_style_block(name: str) -> None:
    text = (ROOT / name).read_text(encoding="utf-8")
    assert not INLINE_STYLE.search(text), (
        f"{name}: an inline style attribute; use a class of the design system"
    )
    assert not STYLE_BLOCK.search(text), (
        f"{name}: a <style> block; move its rules into the site's CSS"
    )


def test_the_checks_catch_what_they_are_for() -> None:
    assert INLINE_STYLE.search('<td class="x" style="color: red">')
    assert INLINE_STYLE.search('<p\n   style="x">')
    assert not INLINE_STYLE.search('<p data-style="x" class="style">')
    assert STYLE_BLOCK.search("<STYLE>p{}</STYLE>")
    assert colours_outside_tokens(".a { color: #fff; }\n:root { --x: #000; }") == [
        ".a { color: #fff; }"
    ]
    assert colours_outside_tokens(".a { background: white; }") == [".a { background: white; }"]


def colours_outside_tokens(css: str) -> list[str]:
    """Lines naming a colour anywhere but in a token (custom property) declaration."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    bad = []
    for line in css.splitlines():
        declarations = [d for d in re.split(r"[;{]", line) if d.strip()]
        for declaration in declarations:
            if declaration.strip().startswith("--"):
                continue
            if HEX_COLOUR.search(declaration) or NAMED_COLOUR.search(declaration):
                bad.append(line.strip())
                break
    return bad


@pytest.mark.parametrize("name", STYLESHEETS)
def test_stylesheets_name_colours_only_through_tokens(name: str) -> None:
    bad = colours_outside_tokens((ROOT / name).read_text(encoding="utf-8"))
    assert not bad, f"{name}: colours outside the tokens: {bad}"
