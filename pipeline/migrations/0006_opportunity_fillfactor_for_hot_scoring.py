"""Leave half of every opportunity page free, so the nightly scoring's UPDATE is a HOT update.

The scoring (``scoring.services.scores``) rewrites the score and the marked-to-market figures of every open
opportunity whenever they change (every row once a month, when loan ages move by a month). None of those columns
is indexed, so PostgreSQL can keep the new row version on the same page and skip all twelve indexes (a heap-only
tuple), but only if the page has room for it. At the default fillfactor 100 there is none and every row is
written into every index: at 100k opportunities that was most of the run. With 50 the page holds the new versions
of its rows; the space is the same that a full rewrite bloats a fillfactor-100 table to anyway. Pages already
full keep their rows until they are next updated (no table rewrite here). PostgreSQL only; SQLite has no such
setting.
"""

from django.db import migrations

FILLFACTOR = 50


def set_fillfactor(apps, schema_editor, value=FILLFACTOR):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE pipeline_opportunity SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE pipeline_opportunity RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0005_opportunity_review_flag"),
    ]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False)]
