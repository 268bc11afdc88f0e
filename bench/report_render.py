"""Render a two-page lab report (40 rows, Chinese text) and a bare one-line page, warm.

The report goes through its template, QR code and hospital.pdf.render_pdf, exactly as issue at
release does. The bare page is plain WeasyPrint with the same print CSS and font stack (nothing
shared between renders): `ratio`. The same page through render_pdf, which shares its parsed
stylesheet and fonts across renders, gives `ratio_same_path`. Prints figures; the last line is a
JSON object with report_ms, bare_ms, ratio and pdf_bytes. Never a timed assertion.

    .venv/bin/python -m bench.report_render [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--save", metavar="PDF", help="write the report PDF here to inspect it")
    options = parser.parse_args()

    from hospital.app import create_app
    from hospital.db import db, utcnow
    from hospital.pdf import render_pdf
    from reports import printing
    from reports.models import ReportSource
    from reports.results import IncomingReport, ResultItem, flag_from_range
    from reports.services import intake, release
    from tests.support import factories

    tmp = tempfile.mkdtemp(prefix="report-bench-")
    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"}
    )
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    with app.test_request_context():
        db.create_all()
        hospital = factories.create_hospital(
            name_zh="北京协和医院",
            name_en="Peking Union Medical College Hospital",
            address_zh="北京市东城区帅府园1号",
            phone="010-69156114",
        )
        patient = factories.create_patient(hospital, name="欧阳明华")
        names = [
            "白细胞计数",
            "红细胞计数",
            "血红蛋白",
            "血小板计数",
            "中性粒细胞百分比",
            "淋巴细胞百分比",
            "丙氨酸氨基转移酶",
            "天门冬氨酸氨基转移酶",
            "总胆红素",
            "直接胆红素",
        ]
        items = []
        for i in range(options.rows):
            value = f"{3 + (i * 7 % 50) / 10:.1f}"
            items.append(
                ResultItem(
                    name=f"{names[i % len(names)]} {i + 1}",
                    code=f"T{i}",
                    value=value,
                    unit="mmol/L",
                    reference_range="3.5-5.5",
                    flag=flag_from_range(value, "3.5-5.5"),
                )
            )
        incoming = IncomingReport(
            medical_record_number=patient.medical_record_number,
            test_code="CBC",
            test_name="血常规+肝功能",
            signed_by="李检验（主管技师）",
            conclusion="部分指标异常，请结合临床。",
            items=items,
        )
        (report,) = intake.receive_results(
            hospital, [incoming], source=ReportSource.STAFF, now=utcnow()
        )
        version = report.current
        now = utcnow()

        def render_report() -> bytes:
            html = printing.report_html(
                report,
                version,
                hospital=hospital,
                patient=patient,
                verify_url=release.verification_url(version.verification_code),
                issued_at=now,
            )
            return printing.render_report_pdf(html)

        bare_html = "<!doctype html><html><body><p>检验报告 Laboratory report</p></body></html>"

        def render_bare() -> bytes:
            from weasyprint import CSS, HTML

            from hospital.pdf import PRINT_CSS

            return HTML(string=bare_html).write_pdf(
                stylesheets=[CSS(string=PRINT_CSS)], full_fonts=False
            )

        def render_bare_same_path() -> bytes:
            return render_pdf(bare_html)

        pdf = render_report()  # warm-up: fonts loaded, templates compiled
        render_bare()
        render_bare_same_path()
        # Interleaved, so that load from other processes hits both alike; CPU time is printed
        # too because on a shared machine it is the steadier figure.
        report_times, bare_times, report_cpu, bare_cpu = [], [], [], []
        same_path_times: list[float] = []
        for _ in range(options.runs):
            start, cpu = time.perf_counter(), time.process_time()
            pdf = render_report()
            report_times.append((time.perf_counter() - start) * 1000)
            report_cpu.append((time.process_time() - cpu) * 1000)
            start, cpu = time.perf_counter(), time.process_time()
            render_bare()
            bare_times.append((time.perf_counter() - start) * 1000)
            bare_cpu.append((time.process_time() - cpu) * 1000)
            start = time.perf_counter()
            render_bare_same_path()
            same_path_times.append((time.perf_counter() - start) * 1000)

    import io

    import pypdf

    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    if options.save:
        Path(options.save).write_bytes(pdf)
    report_ms = statistics.median(report_times)
    bare_ms = statistics.median(bare_times)
    print(f"report: {options.rows} rows, {pages} pages, {len(pdf)} bytes")
    print(
        f"report render median {report_ms:.1f} ms over {options.runs} runs (min {min(report_times):.1f})"
    )
    same_path_ms = statistics.median(same_path_times)
    print(f"bare WeasyPrint page median {bare_ms:.1f} ms (min {min(bare_times):.1f})")
    print(f"bare page via render_pdf median {same_path_ms:.1f} ms")
    print(
        f"ratio {report_ms / bare_ms:.2f} (target <= 4), same path {report_ms / same_path_ms:.2f}"
    )
    report_cpu_ms = statistics.median(report_cpu)
    bare_cpu_ms = statistics.median(bare_cpu)
    print(f"CPU time medians: report {report_cpu_ms:.1f} ms, bare {bare_cpu_ms:.1f} ms")
    print(
        json.dumps(
            {
                "report_ms": round(report_ms, 1),
                "bare_ms": round(bare_ms, 1),
                "ratio": round(report_ms / bare_ms, 2),
                "bare_same_path_ms": round(same_path_ms, 1),
                "ratio_same_path": round(report_ms / same_path_ms, 2),
                "pdf_bytes": len(pdf),
                "pages": pages,
                "report_cpu_ms": round(report_cpu_ms, 1),
                "bare_cpu_ms": round(bare_cpu_ms, 1),
                "cpu_ratio": round(report_cpu_ms / bare_cpu_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
