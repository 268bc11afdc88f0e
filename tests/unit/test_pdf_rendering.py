"""PDF rendering: real Chinese text, and nothing fetched from outside the packages."""

from __future__ import annotations

import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from hospital import pdf
from hospital.pdf import font_warnings, local_asset_path, package_only_fetcher, render_pdf

needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils")


def pdf_text(data: bytes, tmp_path: Path) -> str:
    target = tmp_path / "doc.pdf"
    target.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(target), "-"], capture_output=True, text=True, check=True
    ).stdout


@needs_pdftotext
def test_chinese_text_is_extractable_from_the_pdf(tmp_path: Path) -> None:
    data = render_pdf("<h1>挂号费收据</h1><p>缴费成功 ¥12.00</p>")
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    assert "挂号费收据" in text
    assert "缴费成功" in text


@pytest.mark.skipif(not shutil.which("pdffonts"), reason="poppler-utils")
def test_cjk_font_is_embedded_as_a_subset_not_whole(tmp_path: Path) -> None:
    data = render_pdf("<p>挂号费收据</p>")
    target = tmp_path / "doc.pdf"
    target.write_bytes(data)
    fonts = subprocess.run(
        ["pdffonts", str(target)], capture_output=True, text=True, check=True
    ).stdout
    cjk = [line for line in fonts.splitlines() if "Noto-Sans-CJK-SC" in line]
    assert cjk and all(" yes yes yes " in line for line in cjk)  # embedded, subset, unicode
    # The whole Noto Sans CJK font is over 16 MB; a subset stays far below one.
    assert len(data) < 1_000_000


def test_remote_urls_are_never_fetched() -> None:
    hits: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        render_pdf(f'<link rel="stylesheet" href="{url}/a.css"><img src="{url}/b.png"><p>x</p>')
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []


def test_files_outside_the_package_assets_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    fetcher = package_only_fetcher()
    for url in (
        secret.as_uri(),
        "file:///etc/passwd",
        (Path(pdf.__file__)).as_uri(),  # inside the package but not an asset folder
        (pdf.PROJECT_ROOT / "hospital" / "web" / "static" / ".." / ".." / "db.py").as_uri(),
        "http://example.com/x.css",
        "https://example.com/x.css",
        "ftp://example.com/x",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_package_assets_and_data_uris_are_served() -> None:
    asset = next((pdf.PROJECT_ROOT / "hospital").rglob("templates/*.html"))
    assert local_asset_path(asset.as_uri()) == asset.resolve()
    response = package_only_fetcher().fetch(asset.as_uri())
    assert response.read()
    response.close()
    data = package_only_fetcher().fetch("data:text/plain;base64,aGk=")
    assert data.read() == b"hi"
    data.close()


def test_a_render_that_takes_too_long_is_abandoned(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    class SlowHTML:
        def __init__(self, **kwargs: object) -> None:
            pass

        def write_pdf(self, **kwargs: object) -> bytes:
            release.wait(5)
            return b""

    import weasyprint

    monkeypatch.setattr(weasyprint, "HTML", SlowHTML)
    try:
        with pytest.raises(pdf.PdfRenderError):
            render_pdf("<p>x</p>", timeout_s=0.05)
    finally:
        release.set()


def test_font_warnings_name_the_missing_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "_cjk_font_installed", lambda: False)
    monkeypatch.setattr(pdf, "_harfbuzz_subset_installed", lambda: False)
    warnings = font_warnings()
    assert any("fonts-noto-cjk" in w for w in warnings)
    assert any("libharfbuzz-subset0" in w for w in warnings)


def test_no_font_warnings_on_this_machine() -> None:
    assert font_warnings() == []


def test_document_stylesheets_apply_and_are_parsed_once(tmp_path: Path) -> None:
    css = "@page { size: 80mm 200mm; margin: 4mm; } p.big { font-size: 30pt; }"
    first = render_pdf("<p class='big'>挂号</p>", css=(css,))
    sheet = pdf._typesetter._sheets[css]
    render_pdf("<p class='big'>收据</p>", css=(css,))
    assert pdf._typesetter._sheets[css] is sheet  # parsed once, reused
    target = tmp_path / "doc.pdf"
    target.write_bytes(first)
    info = subprocess.run(["pdfinfo", str(target)], capture_output=True, text=True).stdout
    assert "226.772 x 566.929 pts" in info  # the sheet's @page applied (80 x 200 mm)


def test_the_stylesheet_cache_is_bounded() -> None:
    for i in range(pdf.STYLESHEET_CACHE_SIZE + 5):
        render_pdf("<p>x</p>", css=(f".c{i} {{ color: #000 }}",))
    assert len(pdf._typesetter._sheets) <= pdf.STYLESHEET_CACHE_SIZE


@pytest.mark.skipif(not shutil.which("pdfimages"), reason="poppler-utils")
def test_the_qr_png_is_embedded_module_for_module_and_unsmoothed(tmp_path: Path) -> None:
    from PIL import Image

    from hospital.qr import qr_matrix, qr_png_data_uri

    url = "https://hospital.example/billing/verify/" + "a1" * 16
    data = render_pdf(
        f'<img src="{qr_png_data_uri(url)}" style="width: 32mm; image-rendering: pixelated">'
    )
    target = tmp_path / "doc.pdf"
    target.write_bytes(data)
    listing = subprocess.run(
        ["pdfimages", "-list", str(target)], capture_output=True, text=True, check=True
    ).stdout
    (row,) = [line.split() for line in listing.splitlines()[2:]]
    assert row[9] == "no"  # interpolate: viewers and printers keep the modules square
    subprocess.run(["pdfimages", "-png", str(target), str(tmp_path / "img")], check=True)
    image = Image.open(tmp_path / "img-000.png").convert("L")
    matrix = qr_matrix(url)
    assert image.size == (len(matrix), len(matrix))
    pixels = image.load()
    assert [[pixels[x, y] < 128 for x in range(image.width)] for y in range(image.height)] == [
        list(row) for row in matrix
    ]


def test_a_payload_is_encoded_once_and_the_shared_matrix_is_what_qrcode_makes() -> None:
    import qrcode
    import qrcode.constants

    from hospital.qr import qr_matrix

    url = "https://hospital.example/t/cached-payload-token"
    first = qr_matrix(url)
    assert qr_matrix(url) is first  # the slip's screen and its PDF share one encoding
    fresh = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    fresh.add_data(url)
    fresh.make(fit=True)
    assert [list(row) for row in first] == fresh.get_matrix()
    assert qr_matrix(url, border=2) != first  # the quiet zone is part of the key
