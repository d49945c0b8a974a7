"""The only tags and filters a manager's message template may use (sequence steps, campaigns, status templates).

Templates are written in admin by branch managers and rendered by workers and in previews, so nothing here may
read files, load libraries or produce output out of proportion to the template: ``if`` (with ``elif``/``else``),
``firstof`` and ``comment``; filters that only change case, pick a default or shorten. Loops, ``lorem``,
``widthratio``, ``include``/``extends``/``load``/``debug`` and width-padding filters (``center``, ``ljust``,
``rjust``) are unknown tags or filters here, so a template using them is refused when it is saved.
"""

from __future__ import annotations

from django.template import Library, defaultfilters, defaulttags

register = Library()

TAGS = ("if", "firstof", "comment")
FILTERS = (
    "capfirst",
    "default",
    "default_if_none",
    "lower",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "yesno",
)

for _name in TAGS:
    register.tag(_name, defaulttags.register.tags[_name])
for _name in FILTERS:
    register.filters[_name] = defaultfilters.register.filters[_name]
