"""Every string a person reads has a Simplified Chinese translation (English is the source)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from hospital.web.catalogues import ROOT, catalogue_dirs, extract


@pytest.mark.parametrize("catalogue", catalogue_dirs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_catalogue_is_complete(catalogue: Path, tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    extract(catalogue, pot)
    with pot.open("rb") as f:
        wanted = [m for m in read_po(f) if m.id]
    po_path = catalogue / "zh" / "LC_MESSAGES" / "messages.po"
    if not wanted:
        return
    assert po_path.exists(), (
        f"{po_path.relative_to(ROOT)} is missing: run `make messages` and translate"
    )
    with po_path.open("rb") as f:
        zh = read_po(f)
    missing = []
    for message in wanted:
        translated = zh.get(message.id, context=message.context)
        text = translated.string if translated else None
        if (
            translated is None
            or translated.fuzzy
            or not (all(text) if isinstance(text, tuple) else text)
        ):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert not missing, (
        f"untranslated in {po_path.relative_to(ROOT)} (run `make messages`, then translate): {missing}"
    )


def test_one_source_string_means_one_thing_across_packages() -> None:
    """The app merges every package's catalogue into one, so a msgid without a context that two
    catalogues translate differently shows one package's meaning in the other's pages ("取消预约"
    on a kiosk's back button). Where one English word means two things, give each use a context
    (pgettext / lazy_pgettext, msgctxt in the catalogue)."""
    meanings: dict[str, dict[str, list[str]]] = {}
    for catalogue in catalogue_dirs():
        po_path = catalogue / "zh" / "LC_MESSAGES" / "messages.po"
        if not po_path.exists():
            continue
        with po_path.open("rb") as f:
            for message in read_po(f):
                if not message.id or message.context:
                    continue
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                where = str(catalogue.relative_to(ROOT))
                meanings.setdefault(msgid, {}).setdefault(text, []).append(where)
    clashes = {msgid: found for msgid, found in meanings.items() if len(found) > 1}
    assert not clashes, (
        "one msgid, several translations (use a message context, or agree on one): "
        + "; ".join(f"{msgid!r}: {found}" for msgid, found in sorted(clashes.items()))
    )
