"""Receipt rendering: a one-page A4 receipt with QR and Chinese text against a bare page.

Renders, through hospital.pdf.render_pdf and the real receipt template, a receipt for a paid
order with Chinese hospital, patient and item names and a verification QR code; and, in the
same run, a bare one-line page: plain WeasyPrint (`HTML(...).write_pdf()` with the same print
CSS and font stack, nothing shared between renders), and the same page through render_pdf. Each
is rendered a few times to warm up, then timed in turn; the medians are compared. `ratio` is the
receipt against the bare WeasyPrint page; `ratio_same_path` against the bare page through
render_pdf (which also gets render_pdf's shared stylesheet and fonts). The PDF's size and the subsetting path WeasyPrint
took (HarfBuzz or the fontTools fallback) are reported too, and the CPU times with their ratio
(`cpu_ratio`), the steadier figure on a shared machine.

    .venv/bin/python -m bench.receipt_render [--runs 15] [--fonttools]

`--fonttools` forces WeasyPrint's fontTools fallback (as on a machine without
libharfbuzz-subset0) to show what the fast path saves. Prints figures; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


def _receipt_html(app: Any) -> str:
    from hospital.billing.models import ItemCategory, Order, OrderItem, OrderPurpose, OrderStatus
    from hospital.billing.receipts import ReceiptView, receipt_view_html
    from hospital.organisation.models import Hospital

    paid_at = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)
    hospital = Hospital(
        id=1,
        code="BJ01",
        name_zh="北京协和医院",
        name_en="Peking Union Medical College Hospital",
        timezone="Asia/Shanghai",
    )
    items = [
        OrderItem(
            category=ItemCategory.REGISTRATION,
            name_zh="主任医师挂号费",
            name_en="Chief physician registration",
            unit_price_fen=5000,
            quantity=1,
            amount_fen=5000,
            insurance_fen=0,
        ),
        OrderItem(
            category=ItemCategory.LAB_TEST,
            name_zh="血常规（五分类）",
            name_en="Complete blood count",
            unit_price_fen=2500,
            quantity=1,
            amount_fen=2500,
            insurance_fen=1750,
        ),
        OrderItem(
            category=ItemCategory.MEDICINE,
            name_zh="阿莫西林胶囊 0.25g×24粒",
            name_en="Amoxicillin capsules",
            unit_price_fen=1860,
            quantity=2,
            amount_fen=3720,
            insurance_fen=2976,
        ),
    ]
    order = Order(
        id=123,
        hospital_id=1,
        patient_id=1,
        purpose=OrderPurpose.VISIT,
        status=OrderStatus.PAID,
        currency="CNY",
        total_fen=11220,
        insurance_fen=4726,
        self_pay_fen=6494,
        paid_self_fen=6494,
        paid_insurance_fen=4726,
        refunded_self_fen=0,
        refunded_insurance_fen=0,
        receipt_no="2026112800000123",
        paid_at=paid_at,
        verification_token="x" * 32,
    )
    order.items = items
    view = ReceiptView(
        order=order,
        hospital=hospital,
        patient_name="张三明",
        patient_id_masked="110105********0018",
        payer="张小明",
        paid_at_local=paid_at.astimezone(ZoneInfo("Asia/Shanghai")),
        transaction_ids=["SBX5f1d2c3b4a59687766554433", "INS0a1b2c3d4e5f60718293"],
        verify_url="http://127.0.0.1:8000/billing/verify/" + "x" * 32,
        refunds={},
    )
    with app.test_request_context("/", headers={"Accept-Language": "zh"}):
        return receipt_view_html(view, size="a4")


BARE_HTML = "<!doctype html><html><body><p>挂号费收据 Receipt</p></body></html>"


def bare_weasyprint(html: str, css: str) -> bytes:
    """A page through WeasyPrint alone, with the same print CSS (so the same fonts)."""
    from weasyprint import CSS, HTML

    return HTML(string=html).write_pdf(stylesheets=[CSS(string=css)], full_fonts=False)


def _interleaved_medians(fns: list[Any], runs: int) -> list[tuple[float, float, Any]]:
    """Median wall and CPU ms of each function, run in turn so that machine load hits them alike.

    CPU time (this process's) is printed beside wall time: on a shared machine it is the
    steadier figure, as waiting for a core counts in wall time only.
    """
    results = [fn() for fn in fns for _ in range(3)][2::3]  # warm: fonts loaded, caches filled
    times: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.process_time()
            results[i] = fn()
            times[i].append((time.perf_counter() - start) * 1000)
            cpu[i].append((time.process_time() - start_cpu) * 1000)
    return [
        (statistics.median(t), statistics.median(c), r)
        for t, c, r in zip(times, cpu, results, strict=True)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--fonttools", action="store_true", help="force the fontTools fallback")
    parser.add_argument("--save", metavar="PDF", help="write the receipt PDF here to inspect it")
    args = parser.parse_args()

    import weasyprint.pdf.fonts as wp_fonts

    if args.fonttools:
        wp_fonts.harfbuzz_subset = None
    from hospital.app import create_app
    from hospital.billing.receipts import RECEIPT_CSS
    from hospital.pdf import PRINT_CSS, font_warnings, render_pdf

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "bench"})
    with app.app_context():
        from hospital.db import db

        db.create_all()  # the page context asks for the hospital's name
        html = _receipt_html(app)
    (receipt_ms, receipt_cpu, pdf), (bare_ms, bare_cpu, bare_pdf), (same_path_ms, _, _) = (
        _interleaved_medians(
            [
                lambda: render_pdf(html, css=(RECEIPT_CSS,), timeout_s=600),
                lambda: bare_weasyprint(BARE_HTML, PRINT_CSS),
                lambda: render_pdf(BARE_HTML, timeout_s=600),
            ],
            args.runs,
        )
    )
    if args.save:
        with open(args.save, "wb") as out:
            out.write(pdf)
    subsetter = "fonttools" if wp_fonts.harfbuzz_subset is None else "harfbuzz"
    figures = {
        "receipt_ms": round(receipt_ms, 1),
        "bare_ms": round(bare_ms, 1),
        "ratio": round(receipt_ms / bare_ms, 2),
        "bare_same_path_ms": round(same_path_ms, 1),
        "ratio_same_path": round(receipt_ms / same_path_ms, 2),
        "receipt_cpu_ms": round(receipt_cpu, 1),
        "bare_cpu_ms": round(bare_cpu, 1),
        "cpu_ratio": round(receipt_cpu / bare_cpu, 2),
        "pdf_bytes": len(pdf),
        "bare_pdf_bytes": len(bare_pdf),
        "subsetter": subsetter,
        "runs": args.runs,
        "font_warnings": font_warnings(),
    }
    print(f"receipt (A4, QR, Chinese): median {receipt_ms:.1f} ms, {len(pdf):,} bytes")
    print(f"bare WeasyPrint page:      median {bare_ms:.1f} ms, {len(bare_pdf):,} bytes")
    print(f"bare page via render_pdf:  median {same_path_ms:.1f} ms")
    print(
        f"ratio {receipt_ms / bare_ms:.2f} (target <= 2.5), against the same path "
        f"{receipt_ms / same_path_ms:.2f}; fonts subset by {subsetter}"
    )
    print(
        f"CPU time medians: receipt {receipt_cpu:.1f} ms, bare {bare_cpu:.1f} ms, "
        f"ratio {receipt_cpu / bare_cpu:.2f}"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
