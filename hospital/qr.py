"""QR codes as inline SVG for pages and PDFs.

Callers pass only opaque payloads (a verification URL with a random token, a ticket code):
never a name, an identity number or anything else personal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage


class RowRunSvgPathImage(SvgPathImage):
    """qrcode's one-path SVG image, drawing each horizontal run of dark modules as one rectangle.

    The stock factory writes one sub-path per module (about 600 for a short URL); WeasyPrint
    parses every one, which made the QR code a third of a receipt's render time.
    """

    def drawrect_context(self, row: int, col: int, qr: Any) -> None:
        pass  # drawn row by row in process()

    def process(self) -> None:
        unit = self.units(self.box_size, text=False)
        runs = []
        for r, row in enumerate(self.modules):
            c, width = 0, len(row)
            while c < width:
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < width and row[c]:
                    c += 1
                x, y = _num((start + self.border) * unit), _num((r + self.border) * unit)
                length = _num((c - start) * unit)
                runs.append(f"M{x} {y}h{length}v{_num(unit)}h-{length}z")
        self._subpaths = runs
        super().process()


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def qr_svg(data: str, *, box_size: int = 10, border: int = 4) -> str:
    """Return an inline <svg> element encoding data (error correction M; box_size 10 = 1 mm)."""
    if not data:
        raise ValueError("a QR code needs a non-empty payload")
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=border,
        image_factory=RowRunSvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    # to_string may start with an XML declaration; drop it so the SVG can sit inside HTML.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :].lstrip()
    return svg
