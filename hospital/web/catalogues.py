"""Where the translation catalogues are and which source files each one covers.

Each package (and each kernel sub-package that wants its own) keeps `translations/zh/LC_MESSAGES/
messages.po`; flask-babel merges them. English is the source language: msgids are English.
`make messages` extracts new strings into every catalogue; a test fails while any is missing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hospital", "scheduling", "queueing", "reports", "kiosk", "journey", "consult")
SOURCE_SUFFIXES = (".py", ".html", ".txt")


def catalogue_dirs() -> list[Path]:
    dirs = []
    for package in PACKAGES:
        dirs += [p for p in (ROOT / package).glob("translations") if p.is_dir()]
        dirs += [p for p in (ROOT / package).glob("*/translations") if p.is_dir()]
    return sorted(dirs)


def sources(catalogue: Path) -> list[Path]:
    """Every source file under the catalogue's package, except sub-packages with their own catalogue."""
    owner = catalogue.parent
    others = [c.parent for c in catalogue_dirs() if c != catalogue and owner in c.parent.parents]
    files = []
    for path in sorted(owner.rglob("*")):
        if (
            path.suffix not in SOURCE_SUFFIXES
            or "migrations" in path.parts
            or "translations" in path.parts
        ):
            continue
        if any(other in path.parents for other in others):
            continue
        files.append(path)
    return files


def extract(catalogue: Path, pot: Path) -> None:
    files = [str(p) for p in sources(catalogue)]
    if not files:
        pot.write_text("")
        return
    cmd = [
        sys.executable,
        "-m",
        "babel.messages.frontend",
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-k",
        "_l",
        "-k",
        "lazy_gettext",
        "-k",
        "lazy_pgettext:1c,2",
        "--no-location",
        "--sort-output",
        "-o",
        str(pot),
        *files,
    ]
    subprocess.run(cmd, check=True, capture_output=True)


def update(catalogue: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        extract(catalogue, pot)
        po = catalogue / "zh" / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        cmd = [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            action,
            "-i",
            str(pot),
            "-d",
            str(catalogue),
            "-l",
            "zh",
            "-D",
            "messages",
        ]
        if action == "update":
            cmd += ["--ignore-obsolete", "--no-fuzzy-matching"]
        subprocess.run(cmd, check=True, capture_output=True)


@click.command("i18n-update")
@click.argument("catalogue", required=False)
def i18n_update(catalogue: str | None) -> None:
    """Extract new strings into the translation catalogues (all, or the one given)."""
    for directory in catalogue_dirs():
        if catalogue and Path(catalogue).resolve() != directory:
            continue
        update(directory)
        click.echo(f"updated {directory.relative_to(ROOT)}")


def compile_all() -> None:
    """Write each catalogue's .mo next to its .po (what `make` does with pybabel compile)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for directory in catalogue_dirs():
        for po in directory.glob("*/LC_MESSAGES/messages.po"):
            with po.open("rb") as f:
                catalogue = read_po(f)
            with po.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalogue, use_fuzzy=True)
