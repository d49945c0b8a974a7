"""The one date format and the one date-time format of every page, email and export (set once, here).

Django reads this module for the "en" locale (settings.FORMAT_MODULE_PATH); ``{{ value|date }}`` and
``{{ value }}`` in templates and ``core.formatting`` in Python all use it. Anything not set here falls back to
Django's own "en" formats (input formats, number grouping).
"""

DATE_FORMAT = "M j, Y"  # Dec 1, 2026
DATETIME_FORMAT = "M j, Y, g:i A"  # Dec 1, 2026, 3:05 PM
SHORT_DATE_FORMAT = DATE_FORMAT
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
TIME_FORMAT = "g:i A"
