"""QR codes render as inline SVG that encodes the payload."""

from __future__ import annotations

import pytest
import qrcode

from hospital.qr import qr_svg


def test_qr_svg_is_an_inline_svg_element() -> None:
    svg = qr_svg("https://hospital.example/r/abc123")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "<path" in svg


def test_qr_svg_encodes_the_payload() -> None:
    # No decoder is installed here: compare against the matrix qrcode builds for the payload.
    payload = "https://hospital.example/r/abc123"
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    modules = len(code.get_matrix())
    svg = qr_svg(payload)
    assert f'viewBox="0 0 {modules} {modules}"' in svg
    assert qr_svg(payload) == svg
    assert qr_svg(payload + "x") != svg


def test_empty_payload_is_refused() -> None:
    with pytest.raises(ValueError):
        qr_svg("")


def _dark_cells_of(svg: str) -> set[tuple[int, int]]:
    """Read the row runs back out of the path: the cells the SVG paints dark."""
    import re

    path = re.search(r' d="([^"]*)"', svg)
    assert path is not None
    cells = set()
    for x, y, length in re.findall(r"M(\d+) (\d+)\.5h(\d+)", path.group(1)):
        for dx in range(int(length)):
            cells.add((int(y), int(x) + dx))
    return cells


@pytest.mark.parametrize("payload", ["https://hospital.example/billing/verify/abc", "A0042"])
def test_qr_svg_paints_exactly_the_dark_modules(payload: str) -> None:
    # No QR decoder is installed: decode the drawing back into modules and compare.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    expected = {(r, c) for r, row in enumerate(matrix) for c, dark in enumerate(row) if dark}
    assert _dark_cells_of(qr_svg(payload)) == expected


def test_qr_svg_draws_runs_not_single_modules() -> None:
    svg = qr_svg("https://hospital.example/billing/verify/abc")
    assert svg.count("M") < 300
