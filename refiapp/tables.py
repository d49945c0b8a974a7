"""Shared django-tables2 base for every list page."""

from __future__ import annotations

import django_tables2 as tables


class BaseTable(tables.Table):
    class Meta:
        attrs = {"class": "table"}
        template_name = "tables/table.html"
        per_page = 50
