"""Server-side SVG bar charts: no JavaScript, no CDN, and they print like the rest of the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from reports.report_tables import ReportTable
from reports.selectors import Report

WIDTH = 760
LABEL_WIDTH = 230
BAR_SPACE = 420
BAR_HEIGHT = 18
BAR_GAP = 4
GROUP_GAP = 14
LEGEND_HEIGHT = 26
# Colour-blind-safe pair with enough contrast on white and in greyscale print.
PALETTE = ("#0b5cad", "#e08a00")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    text: str
    text_x: float
    text_y: float


@dataclass
class Row:
    label: str
    label_y: float
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Chart:
    id: str
    title: str
    description: str
    height: float
    rows: list[Row]
    legend: list[tuple[str, str, float, float]]  # (name, fill, swatch x, text x)
    width: int = WIDTH
    label_x: int = LABEL_WIDTH - 8


def bar_chart(
    *, id: str, title: str, description: str, labels: list[str], series: list[tuple[str, list[Any], list[str]]]
) -> Chart:
    """Horizontal bars: one group per label, one bar per series (name, values, value texts)."""
    values = [v for _name, vals, _texts in series for v in vals if v is not None]
    top = max([Decimal(v) for v in values] + [Decimal(1)])
    y = float(LEGEND_HEIGHT if len(series) > 1 else 4)
    legend = [
        (name, PALETTE[i % len(PALETTE)], float(LABEL_WIDTH + i * 200), float(LABEL_WIDTH + i * 200 + 20))
        for i, (name, _v, _t) in enumerate(series)
    ]
    rows = []
    for index, label in enumerate(labels):
        group_height = len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
        row = Row(label=label, label_y=round(y + group_height / 2 + 5, 1))
        for s_index, (_name, vals, texts) in enumerate(series):
            value = vals[index]
            width = 0.0 if value is None else float(Decimal(value) / top * BAR_SPACE)
            bar_y = y + s_index * (BAR_HEIGHT + BAR_GAP)
            row.bars.append(
                Bar(
                    x=LABEL_WIDTH,
                    y=round(bar_y, 1),
                    width=round(max(width, 0.0), 1),
                    height=BAR_HEIGHT,
                    fill=PALETTE[s_index % len(PALETTE)],
                    text=texts[index],
                    text_x=round(LABEL_WIDTH + width + 6, 1),
                    text_y=round(bar_y + BAR_HEIGHT - 4, 1),
                )
            )
        rows.append(row)
        y += group_height + GROUP_GAP
    return Chart(id=id, title=title, description=description, height=round(y, 1), rows=rows, legend=legend)


def _cohort_chart(id: str, title: str, table: ReportTable) -> Chart:
    rows = table.rows
    return bar_chart(
        id=id,
        title=title,
        description="Share of the opportunities identified in the period that reached application and that were won.",
        labels=[row[0].text for row in rows],
        series=[
            ("Application rate", [row[7].value for row in rows], [row[7].text for row in rows]),
            ("Win rate", [row[8].value for row in rows], [row[8].text for row in rows]),
        ],
    )


def report_charts(report: Report, tables: dict[str, ReportTable]) -> dict[str, Chart]:
    funnel = report.funnel
    return {
        "funnel": bar_chart(
            id="chart-funnel",
            title="Funnel",
            description="Opportunities identified in the period and how many reached each stage so far.",
            labels=[label for _key, label, _count, _share in funnel],
            series=[
                (
                    "Opportunities",
                    [count for _key, _label, count, _share in funnel],
                    [f"{count:,}" for _key, _label, count, _share in funnel],
                )
            ],
        ),
        "bands": _cohort_chart("chart-bands", "Conversion by spread band", tables["bands"]),
        "rules": _cohort_chart("chart-rules", "Conversion by threshold rule", tables["rules"]),
    }
