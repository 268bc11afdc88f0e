"""QR codes as inline SVG for pages and PDFs.

Callers pass only opaque payloads (a verification URL with a random token, a ticket code):
never a name, an identity number or anything else personal.
"""

from __future__ import annotations

import base64
import functools
import io

import qrcode
import qrcode.constants
from PIL import Image

Matrix = tuple[tuple[bool, ...], ...]


def _row_runs(matrix: Matrix) -> str:
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


def qr_matrix(data: str, *, border: int = 4) -> Matrix:
    """The code's modules, row by row (True = dark), the quiet zone (border) included."""
    if not data:
        raise ValueError("a QR code needs a non-empty payload")
    return _encoded(data, border)


@functools.lru_cache(maxsize=512)
def _encoded(data: str, border: int) -> Matrix:
    # Encoding is the costly part (qrcode tries all eight masks, ~10 ms on the 2-core machine),
    # and one payload is usually drawn twice in a row: a kiosk's slip on the screen, then the
    # same ticket's PDF; a receipt's page, then its PDF. The matrix is immutable, so shared.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def qr_png_data_uri(data: str, *, border: int = 4) -> str:
    """A data: URI of a PNG with one grey-scale pixel per module, for PDFs.

    WeasyPrint embeds a small PNG nearly for free, where it parses an SVG path command by
    command (the QR code was a fifth of a receipt's render time). Show it with
    `image-rendering: pixelated` and a size in mm: the PDF then asks viewers and printers to
    scale it without smoothing, so each module stays a sharp square.
    """
    matrix = qr_matrix(data, border=border)
    modules = len(matrix)
    image = Image.new("L", (modules, modules))
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def qr_svg(data: str, *, box_size: int = 10, border: int = 4) -> str:
    """Return an inline <svg> element encoding data (error correction M; box_size 10 = 1 mm)."""
    matrix = qr_matrix(data, border=border)
    modules = len(matrix)
    size = f"{modules * box_size / 10:g}mm"
    return (
        f'<svg width="{size}" height="{size}" version="1.1" viewBox="0 0 {modules} {modules}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<path d="{_row_runs(matrix)}" fill="none" stroke="#000000" stroke-width="1" '
        'shape-rendering="crispEdges"/></svg>'
    )
