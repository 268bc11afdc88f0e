"""The issued report's result table: four columns of lines when every text fits, else one cell each.

Both layouts must print every value on its row, in order, under the repeated header.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from reports import printing
from reports.models import AbnormalFlag, LabReport, LabReportItem
from reports.results import ResultItem, flag_from_range
from tests.integration.reports.conftest import pdf_pages, pdf_text, receive_cbc


def _report(ward: Any, names: list[str]) -> LabReport:
    items = []
    for i, name in enumerate(names):
        value = f"{3 + (i * 7 % 50) / 10:.1f}"
        items.append(
            ResultItem(
                name=name,
                code=f"T{i}",
                value=value,
                unit="mmol/L",
                reference_range="3.5-5.5",
                flag=flag_from_range(value, "3.5-5.5"),
            )
        )
    return receive_cbc(ward, items)


def _layout_text(pdf: bytes) -> str:
    """The PDF's text as laid out on the page (pdftotext -layout: rows stay rows)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.pdf"
        path.write_bytes(pdf)
        return subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout


def _rows_in_order(pdf: bytes, report: LabReport) -> None:
    """Every item's name, value and range on one printed line, in the report's order."""
    lines = _layout_text(pdf).splitlines()
    at = 0
    for item in report.current.items:
        pattern = re.compile(
            re.escape(item.name)
            + r"\s+"
            + re.escape(f"{item.value} {item.unit}")
            + r"\s+.*3\.5-5\.5"
        )
        while at < len(lines) and not pattern.search(lines[at]):
            at += 1
        assert at < len(lines), f"{item.name} is not on a line with its value and range"
        at += 1


def test_a_long_report_prints_as_columns_of_lines_over_pages(ward: Any) -> None:
    report = _report(ward, [f"白细胞计数 {i + 1}" for i in range(90)])
    html = printing.report_html(
        report,
        report.current,
        hospital=ward.hospital,
        patient=ward.patient,
        verify_url="http://hospital.test/reports/verify/x",
        issued_at=report.current.issued_at,
    )
    assert '<tr class="lines">' in html and '<tr class="odd' not in html
    pdf = report.current.pdf
    text = pdf_text(pdf)
    _rows_in_order(pdf, report)
    assert pdf_pages(pdf) >= 2
    assert text.count("参考范围 Reference range") >= 2  # the header repeats on the next page


def test_a_text_too_wide_for_its_column_gets_a_cell_of_its_own(ward: Any) -> None:
    long_name = "丙氨酸氨基转移酶与天门冬氨酸氨基转移酶比值（计算项目，仅供参考）"
    report = _report(ward, ["血红蛋白", long_name, "血小板计数"])
    html = printing.report_html(
        report,
        report.current,
        hospital=ward.hospital,
        patient=ward.patient,
        verify_url="http://hospital.test/reports/verify/x",
        issued_at=report.current.issued_at,
    )
    assert '<tr class="lines">' not in html and '<tr class="odd' in html
    text = pdf_text(report.current.pdf)
    assert "".join(text.split()).count(long_name) == 1  # wrapped in its cell, never cut
    assert "血红蛋白" in text and "血小板计数" in text


def test_item_columns_refuse_line_breaks_and_wide_texts() -> None:
    def item(name: str, value: str = "5.0") -> LabReportItem:
        return LabReportItem(
            name=name, value=value, unit="mmol/L", reference_range="3.5-5.5", flag=None
        )

    columns = printing.item_columns([item("血红蛋白"), item("Hb", "4.1")], printing.FLAG_TEXT)
    assert columns == [["血红蛋白", "Hb"], ["5.0 mmol/L", "4.1 mmol/L"], ["", ""], ["3.5-5.5"] * 2]
    assert printing.item_columns([item("血红\n蛋白")], printing.FLAG_TEXT) is None
    assert printing.item_columns([item("血" * 22)], printing.FLAG_TEXT) is None
    assert printing.item_columns([item("x", "9" * 20)], printing.FLAG_TEXT) is None
    flagged = LabReportItem(
        name="x", value="9", unit="", reference_range="", flag=AbnormalFlag.CRITICAL_HIGH
    )
    assert printing.item_columns([flagged], printing.FLAG_TEXT) == [
        ["x"],
        ["9 "],
        ["↑↑ 危急高 HH"],
        [""],
    ]
