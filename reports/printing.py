"""Render a report version to the PDF issued to the patient (WeasyPrint via hospital.pdf)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import render_template

from hospital.organisation.models import Hospital
from hospital.patients.identity import mask_id_number
from hospital.patients.models import Patient
from hospital.pdf import render_pdf
from hospital.qr import qr_png_data_uri
from hospital.zones import local_date, zone_for
from reports.models import AbnormalFlag, LabReport, LabReportItem, LabReportVersion

# The report's static styles, parsed once by render_pdf for every report it renders.
REPORT_CSS = (Path(__file__).parent / "templates" / "reports" / "report_pdf.css").read_text()

# A report must never hold a worker for long: WeasyPrint is abandoned after this many seconds.
RENDER_TIMEOUT_S = 20

# Flags are printed as words and arrows, so they survive black-and-white printing.
FLAG_TEXT = {
    AbnormalFlag.NORMAL: "",
    AbnormalFlag.LOW: "↓ 偏低 L",
    AbnormalFlag.HIGH: "↑ 偏高 H",
    AbnormalFlag.CRITICAL_LOW: "↓↓ 危急低 LL",
    AbnormalFlag.CRITICAL_HIGH: "↑↑ 危急高 HH",
    AbnormalFlag.ABNORMAL: "* 异常 A",
}
SEX_TEXT = {"male": "男 M", "female": "女 F", "other": "其他 O"}

# How wide (in em of the table's 9 pt text) each column's longest line may be for the result
# table to print as four columns of lines (see item_columns); the columns are 40/20/16/24 % of
# the A4 page's 182 mm, less the cells' padding and a margin for error.
COLUMN_EM = (21.0, 10.0, 8.0, 12.0)


def _width_em(text: str) -> float:
    """A generous width estimate: wide and ambiguous (CJK, arrows) 1 em, anything else 0.65 em."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WFA" else 0.65 for ch in text)


def item_columns(
    items: Sequence[LabReportItem], flag_text: dict[AbnormalFlag, str]
) -> list[list[str]] | None:
    """The result table as four columns of one-line texts, or None when a text may not fit.

    Each column then prints as one table cell holding its lines (white-space: pre, one fixed
    line height, so the rows line up and still break across pages under a repeated header):
    WeasyPrint lays out and draws a table cell, with its boxes and styles, for a large part
    of the report's time, and four cells instead of four per row made the report about a
    third faster. A text that might overflow its column, or that holds a line break, keeps
    the one-cell-per-value table instead.
    """
    columns: list[list[str]] = [[], [], [], []]
    for item in items:
        texts = (
            item.name,
            f"{item.value} {item.unit}",
            flag_text.get(item.flag, "") if item.flag else "",
            item.reference_range,
        )
        for column, text, room in zip(columns, texts, COLUMN_EM, strict=True):
            if _width_em(text) > room or any(unicodedata.category(ch)[0] == "C" for ch in text):
                return None
            column.append(text)
    return columns


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def report_html(
    report: LabReport,
    version: LabReportVersion,
    *,
    hospital: Hospital,
    patient: Patient,
    verify_url: str,
    issued_at: datetime,
) -> str:
    """The HTML of the issued document; every user-entered string is escaped by Jinja."""
    zone = zone_for(hospital)
    return render_template(
        "reports/report_pdf.html",
        report=report,
        version=version,
        hospital=hospital,
        patient=patient,
        masked_id=mask_id_number(patient.id_number),
        sex=SEX_TEXT.get(patient.sex.value, ""),
        age=age_on(patient.birth_date, local_date(issued_at, zone)),
        flag_text=FLAG_TEXT,
        columns=item_columns(version.items, FLAG_TEXT),
        observed_at=local_time(version.observed_at, zone),
        received_at=local_time(report.received_at, zone),
        issued_at=local_time(issued_at, zone),
        qr=qr_png_data_uri(verify_url, border=1),
        verify_url=verify_url,
    )


def render_report_pdf(html: str) -> bytes:
    return render_pdf(html, css=(REPORT_CSS,), timeout_s=RENDER_TIMEOUT_S)
