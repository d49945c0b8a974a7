"""The report's tables as plain data, shared by the page, the weekly email and the CSV exports.

These are fixed aggregate tables (a handful of rows), not django-tables2 list tables: each cell keeps its raw
value and kind, and ``reports.formatting`` turns it into page/email text or a CSV value.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from campaigns.selectors import STAT_LABELS
from core.tables import safe_row
from reports.formatting import csv_value, display, display_change
from reports.selectors import PERIOD_METRICS, CohortRow, Report, percent_change

# The plain-text email keeps lines readable: wider tables are written as one block per row.
TEXT_WIDTH = 100


# kind → the unit a CSV header (or the "Unit" column) names.
CSV_UNITS = {"money": "$", "percent": "%", "duration": "hours", "count": "count"}


@dataclass(frozen=True)
class Cell:
    value: Any
    kind: str = "text"  # text | count | money | percent | duration
    change: Any = None
    has_change: bool = False
    signed: bool = False  # the value itself is a change: shown with its sign

    @property
    def text(self) -> str:
        return display_change(self.value, self.kind) if self.signed else display(self.value, self.kind)

    @property
    def change_text(self) -> str:
        return display_change(self.change, self.kind)

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    change: bool = False  # CSV gets a "<label> change" column after this one
    csv_label: str = ""


@dataclass
class ReportTable:
    key: str
    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    footer: list[list[Cell]] = field(default_factory=list)

    def _kinds(self, index: int) -> set[str]:
        return {row[index].kind for row in [*self.rows, *self.footer] if row[index].value is not None}

    @property
    def _unit_per_row(self) -> bool:
        """A table whose rows hold different units (the summary: counts, dollars, percentages) says the unit of
        each row in a "Unit" column; the others say it in their headers."""
        return any(len(self._kinds(i) - {"text"}) > 1 for i in range(1, len(self.columns)))

    def csv_header(self) -> list[str]:
        """Headers with their unit: "Est. origination revenue ($)", "Application rate (%)", "(hours)"."""
        header = []
        per_row = self._unit_per_row
        for index, column in enumerate(self.columns):
            label = column.csv_label or column.label
            kinds = self._kinds(index) - {"text"}
            unit = CSV_UNITS.get(next(iter(kinds))) if len(kinds) == 1 and not per_row else None
            if unit and unit != "count" and not label.endswith(")"):
                label = f"{label} ({unit})"
            header.append(label)
            if column.change:
                header.append(f"{label} change")
            if index == 0 and per_row:
                header.append("Unit")
        return header

    def csv_rows(self) -> list[list[str]]:
        out = []
        per_row = self._unit_per_row
        for row in [*self.rows, *self.footer]:
            line = []
            for index, (column, cell) in enumerate(zip(self.columns, row, strict=True)):
                line.append(csv_value(cell.value, cell.kind))
                if column.change:
                    line.append(csv_value(cell.change, cell.kind))
                if index == 0 and per_row:
                    kind = next((c.kind for c in row[1:] if c.kind != "text"), "text")
                    line.append(CSV_UNITS.get(kind, ""))
            out.append(line)
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.csv_header())
        writer.writerows(safe_row(line) for line in self.csv_rows())
        return buffer.getvalue()

    def _text_cells(self, row: list[Cell]) -> list[str]:
        return [
            f"{cell.text} ({cell.change_text})" if column.change else cell.text
            for column, cell in zip(self.columns, row, strict=True)
        ]

    def text_lines(self, max_width: int = TEXT_WIDTH) -> list[str]:
        """The table for the plain-text email: aligned columns, or one block per row when that is too wide."""
        header = [c.label for c in self.columns]
        body = [self._text_cells(row) for row in [*self.rows, *self.footer]]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        if sum(widths) + 2 * (len(widths) - 1) > max_width:
            return self._text_blocks(header, body)

        def fmt(values: list[str]) -> str:
            first, *rest = values
            cells = [first.ljust(widths[0])] + [v.rjust(w) for v, w in zip(rest, widths[1:], strict=True)]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        lines = [fmt(header), rule]
        lines += [fmt(line) for line in body[: len(self.rows)]]
        if self.footer:
            lines.append(rule)
            lines += [fmt(line) for line in body[len(self.rows) :]]
        return lines

    @staticmethod
    def _text_blocks(header: list[str], body: list[list[str]]) -> list[str]:
        label_width = max(len(label) for label in header[1:])
        value_width = max(len(line[i]) for line in body for i in range(1, len(header)))
        lines: list[str] = []
        for line in body:
            lines.append(line[0])
            lines += [
                f"  {label.ljust(label_width)}  {value.rjust(value_width)}"
                for label, value in zip(header[1:], line[1:], strict=True)
            ]
            lines.append("")
        return lines[:-1]


EXPORT_TABLES = ("summary", "officers", "funnel", "bands", "rules", "deciles")


def summary_table(report: Report) -> ReportTable:
    table = ReportTable(
        key="summary",
        title=f"Totals, {report.period.comparison_label}",
        columns=[
            Column("metric", "Number"),
            Column("current", "This period"),
            Column("previous", "Previous period"),
            Column("change", "Change"),
            Column("change_percent", "Change %"),
        ],
    )
    total = report.total
    for metric in PERIOD_METRICS:
        current, previous = total.current[metric.key], total.previous[metric.key]
        table.rows.append(
            [
                Cell(metric.label),
                Cell(current, metric.kind),
                Cell(previous, metric.kind),
                Cell(current - previous, metric.kind, signed=True),
                Cell(percent_change(current, previous), "percent", signed=True),
            ]
        )
    return table


def officers_table(report: Report) -> ReportTable:
    columns = [Column("officer", "Loan officer")]
    columns += [Column(metric.key, metric.label, change=True) for metric in PERIOD_METRICS]
    table = ReportTable(key="officers", title="By loan officer", columns=columns)

    def line(numbers: Any) -> list[Cell]:
        cells = [Cell(numbers.name)]
        for metric in PERIOD_METRICS:
            cells.append(Cell(numbers.current[metric.key], metric.kind, numbers.change(metric.key), has_change=True))
        return cells

    table.rows = [line(row) for row in report.officers]
    table.footer = [line(report.total)]
    return table


def funnel_table(report: Report) -> ReportTable:
    table = ReportTable(
        key="funnel",
        title="Funnel of the opportunities identified in the period",
        columns=[
            Column("stage", "Stage"),
            Column("opportunities", "Opportunities"),
            Column("share", "Share of identified"),
        ],
    )
    for _key, label, count, share in report.funnel:
        table.rows.append([Cell(label), Cell(count, "count"), Cell(share, "percent")])
    return table


def _cohort_columns(first: Column) -> list[Column]:
    return [
        first,
        Column("identified", "Identified"),
        Column("contacted", "Contacted"),
        Column("replied", "Replied"),
        Column("appointment", "Appointment"),
        Column("application", "Application"),
        Column("won", "Won"),
        Column("application_rate", "Application rate"),
        Column("win_rate", "Win rate"),
        Column("median_first_touch", "Median match → first touch", csv_label="Median match to first touch (hours)"),
        Column("median_appointment", "Median match → appointment", csv_label="Median match to appointment (hours)"),
    ]


def _cohort_line(row: CohortRow) -> list[Cell]:
    return [
        Cell(row.label),
        Cell(row.identified, "count"),
        Cell(row.reached["contacted"], "count"),
        Cell(row.reached["replied"], "count"),
        Cell(row.reached["appointment"], "count"),
        Cell(row.reached["application"], "count"),
        Cell(row.reached["won"], "count"),
        Cell(row.rate("application"), "percent"),
        Cell(row.rate("won"), "percent"),
        Cell(row.median_first_touch, "duration"),
        Cell(row.median_appointment, "duration"),
    ]


def bands_table(report: Report) -> ReportTable:
    table = ReportTable(
        key="bands",
        title="Conversion by spread band (points)",
        columns=_cohort_columns(Column("band", "Spread band (points)")),
    )
    table.rows = [_cohort_line(row) for row in report.bands]
    table.footer = [_cohort_line(report.cohort_total)]
    return table


def rules_table(report: Report) -> ReportTable:
    table = ReportTable(
        key="rules", title="Conversion by threshold rule", columns=_cohort_columns(Column("rule", "Threshold rule"))
    )
    table.rows = [_cohort_line(row) for row in report.rules]
    total = CohortRow(**{**report.cohort_total.__dict__, "label": "All rules"})
    table.footer = [_cohort_line(total)]
    return table


def deciles_table(report: Report) -> ReportTable:
    table = ReportTable(
        key="deciles",
        title="Conversion by score decile",
        columns=[
            Column("decile", "Score decile"),
            Column("scores", "Scores"),
            Column("identified", "Identified"),
            Column("application", "Application"),
            Column("won", "Won"),
            Column("application_rate", "Application rate"),
            Column("win_rate", "Win rate"),
        ],
    )
    for row in report.deciles:
        scores = "—" if row.low is None else f"{row.low * 100:.1f}–{row.high * 100:.1f} %"
        table.rows.append(
            [
                Cell(row.label),
                Cell(scores),
                Cell(row.identified, "count"),
                Cell(row.application, "count"),
                Cell(row.won, "count"),
                Cell(row.rate("application"), "percent"),
                Cell(row.rate("won"), "percent"),
            ]
        )
    return table


def campaigns_table(report: Report) -> ReportTable:
    """The campaigns sent in the period, each with its results so far (managers; empty for loan officers)."""
    table = ReportTable(
        key="campaigns",
        title="Campaigns",
        columns=[
            Column("campaign", "Campaign"),
            Column("recipients", "Recipients"),
            *[Column(key, label) for key, label in STAT_LABELS],
        ],
    )
    for result in report.campaigns:
        table.rows.append(
            [
                Cell(result.campaign.name),
                Cell(result.campaign.recipient_count or 0, "count"),
                *[Cell(value, "count") for _key, _label, value in result.stats.shown],
            ]
        )
    return table


def report_tables(report: Report) -> dict[str, ReportTable]:
    return {
        "summary": summary_table(report),
        "officers": officers_table(report),
        "funnel": funnel_table(report),
        "bands": bands_table(report),
        "rules": rules_table(report),
        "deciles": deciles_table(report),
        "campaigns": campaigns_table(report),
    }
