"""QR codes as inline SVG for pages and PDFs.

Callers pass only opaque payloads (a verification URL with a random token, a ticket code):
never a name, an identity number or anything else personal.
"""

from __future__ import annotations

import qrcode
import qrcode.constants


def _row_runs(matrix: list[list[bool]]) -> str:
    """Path data drawing each horizontal run of dark modules as one stroked line.

    One module is one user unit; a line one unit wide through the middle of the row covers the
    run exactly. Two path commands per run (the stock qrcode SVG writes five per module, about
    3,000 for a short URL): WeasyPrint parses every command, which made the QR code a third of a
    receipt's render time.
    """
    commands = []
    for r, row in enumerate(matrix):
        c, width = 0, len(row)
        while c < width:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < width and row[c]:
                c += 1
            commands.append(f"M{start} {r}.5h{c - start}")
    return "".join(commands)


def qr_svg(data: str, *, box_size: int = 10, border: int = 4) -> str:
    """Return an inline <svg> element encoding data (error correction M; box_size 10 = 1 mm)."""
    if not data:
        raise ValueError("a QR code needs a non-empty payload")
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # the quiet zone (border) included
    modules = len(matrix)
    size = f"{modules * box_size / 10:g}mm"
    return (
        f'<svg width="{size}" height="{size}" version="1.1" viewBox="0 0 {modules} {modules}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<path d="{_row_runs(matrix)}" fill="none" stroke="#000000" stroke-width="1" '
        'shape-rendering="crispEdges"/></svg>'
    )
