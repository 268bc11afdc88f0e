"""Release rules, abnormal flags from reference ranges, CSV safety and SVG charts."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from reports.charts import Series, bar_chart, line_chart
from reports.export import safe_cell, to_csv
from reports.release import ReleaseRule, release_due_at, releases_by_itself
from reports.results import flag_from_code, flag_from_range
from reports.stats import percentile

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_immediate_results_are_due_at_once() -> None:
    assert release_due_at(ReleaseRule.IMMEDIATE, 0, NOW) == NOW
    assert releases_by_itself(ReleaseRule.IMMEDIATE, 0, NOW, now=NOW)


def test_delayed_results_wait_for_their_delay() -> None:
    assert release_due_at(ReleaseRule.DELAYED, 90, NOW) == NOW + timedelta(minutes=90)
    assert not releases_by_itself(ReleaseRule.DELAYED, 90, NOW, now=NOW + timedelta(minutes=89))
    assert releases_by_itself(ReleaseRule.DELAYED, 90, NOW, now=NOW + timedelta(minutes=90))


def test_sensitive_results_never_release_by_themselves() -> None:
    assert release_due_at(ReleaseRule.CLINICIAN, 0, NOW) is None
    assert not releases_by_itself(ReleaseRule.CLINICIAN, 0, NOW, now=NOW + timedelta(days=365))


@pytest.mark.parametrize(
    ("value", "reference", "flag"),
    [
        ("5", "3.5-5.5", "normal"),
        ("3.4", "3.5-5.5", "low"),
        ("5.6", "3.5 - 5.5", "high"),
        ("4", "<5", "normal"),
        ("5", "<5", "high"),
        ("0.9", ">=1.0", "low"),
        ("-1", "-2-2", "normal"),
        ("positive", "negative", None),
        ("5", "", None),
        ("abc", "1-2", None),
    ],
)
def test_flag_from_range(value: str, reference: str, flag: str | None) -> None:
    assert flag_from_range(value, reference) == flag


def test_flag_codes_map_and_unknown_ones_are_refused() -> None:
    assert flag_from_code("hh") == "critical_high"
    assert flag_from_code("") is None
    with pytest.raises(ValueError, match="unknown abnormal flag"):
        flag_from_code("Q")


@pytest.mark.parametrize(
    "text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", '=HYPERLINK("http://x")']
)
def test_csv_neutralises_formula_cells(text: str) -> None:
    assert safe_cell(text).startswith("'")
    parsed = list(csv.reader(io.StringIO(to_csv(["name"], [[text]]).lstrip("\ufeff"))))
    assert parsed[1][0] == "'" + text


def test_csv_keeps_numbers_and_plain_text() -> None:
    assert safe_cell(-3) == -3 and safe_cell(2.5) == 2.5 and safe_cell("内科") == "内科"


def test_percentile_interpolates_like_postgres() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([10], 0.9) == 10
    assert percentile([], 0.5) is None
    assert percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9) == 90


def test_charts_are_valid_svg_with_escaped_labels() -> None:
    labels = ["2026-11-01", "<script>"]
    for svg in (
        bar_chart(
            "Appointments & more",
            labels,
            [Series("Booked", [3, 5]), Series("Checked in", [2, None])],
        ),
        line_chart("Wait", labels, [Series("p50", [1.5, None]), Series("p90", [4, 6])]),
    ):
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "<script>" not in svg
        assert root.find("{http://www.w3.org/2000/svg}title").text


def test_bar_heights_are_proportional() -> None:
    svg = bar_chart("x", ["a", "b"], [Series("s", [5, 10])])
    heights = [
        float(r.get("height")) for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect")
    ]
    assert heights[1] == pytest.approx(heights[0] * 2)
