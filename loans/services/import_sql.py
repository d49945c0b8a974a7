"""The statement that plans and writes one chunk of a loan import on PostgreSQL (``import_copy.CopyRun``).

Kept apart from the streaming code: this is the import's rules written as SQL (borrower matching, the borrower's
state after each row, consent transitions, what counts as changed), held equal to the SQLite path by
``tests/loans/test_import_paths.py``.
"""

from __future__ import annotations

from functools import cache

from loans.models import Borrower, ConsentEvent, Loan
from loans.services.import_scope import LOAN_FIELDS

# staging column -> canonical value of the row
BORROWER_INPUTS = {
    "b_first": "borrower_first_name",
    "b_last": "borrower_last_name",
    "b_email": "borrower_email",
    "b_mobile": "borrower_mobile",
    "b_state": "borrower_state",
    "b_timezone": "borrower_timezone",
    "b_zip": "borrower_zip",
    "b_zip_zone": "borrower_zip_zone",  # the ZIP's zone (mailing, else property), looked up while parsing
    "email_consent": "email_consent",
    "sms_consent": "sms_consent",
    "sms_consent_source": "sms_consent_source",
    "do_not_contact": "do_not_contact",
}


@cache
def chunk_statement(*, write: bool) -> str:
    """The chunk's statement: the plan (CTEs), then the writes (data-modifying CTEs), then the counts.

    Every CTE reads the database as it was before the statement, so the plan sees the stored loans and
    borrowers, never this chunk's own writes (those are seen by the next chunk).
    """
    loans, borrowers, events = Loan._meta.db_table, Borrower._meta.db_table, ConsentEvent._meta.db_table
    upb_as_of = (
        "CASE WHEN s.current_upb IS NOT NULL AND s.upb_as_of IS NULL THEN "
        "CASE WHEN l.current_upb = s.current_upb AND l.upb_as_of IS NOT NULL THEN l.upb_as_of "
        "ELSE %(upload_date)s::date END ELSE s.upb_as_of END"
    )
    loan_changed = " OR ".join(
        [
            f"(s.{name} IS NOT NULL AND s.{name} IS DISTINCT FROM l.{name})"
            for name in LOAN_FIELDS
            if name != "upb_as_of"
        ]
        + [
            f"(({upb_as_of}) IS NOT NULL AND ({upb_as_of}) IS DISTINCT FROM l.upb_as_of)",
            "(s.officer_id IS NOT NULL AND s.officer_id IS DISTINCT FROM l.loan_officer_id)",
            "(s.branch_id IS NOT NULL AND s.branch_id IS DISTINCT FROM l.branch_id)",
        ]
    )
    borrower_inputs = ", ".join(f"s.{column}" for column in BORROWER_INPUTS)
    loan_columns = ", ".join(LOAN_FIELDS)
    email_consent = "(c.email_granted OR (c.old_email_consent AND NOT c.email_revoked))"
    sms_consent = "(c.sms_granted OR (c.old_sms_consent AND NOT c.sms_revoked))"
    outcome = (
        f"ROW(c.new_first, c.new_last, c.new_email, c.new_mobile, c.new_state, c.new_timezone, c.new_zip, "
        f"{email_consent}, "
        f"{sms_consent}, c.dnc_set OR c.old_dnc)"
    )
    plan = f"""
    WITH joined AS (  -- each lookup is one index probe (LIMIT 1 keeps it a nested loop, whatever the stats say)
        SELECT s.line, s.loan_number, s.property_state, {borrower_inputs},
               l.id AS loan_id, l.borrower_id AS loan_borrower_id, {upb_as_of} AS upb_as_of_new,
               COALESCE({loan_changed}, false) AS loan_changed
        FROM _import_stage s
        LEFT JOIN LATERAL (
            SELECT id, borrower_id, loan_officer_id, branch_id, {loan_columns}
            FROM {loans} WHERE organization_id = %(org)s AND loan_number = s.loan_number LIMIT 1
        ) l ON true
    ),
    matched AS MATERIALIZED (  -- a new loan's borrower: the first stored one with its email and name
        SELECT j.*, COALESCE(j.loan_borrower_id, (
            SELECT b.id FROM {borrowers} b
            WHERE j.loan_id IS NULL AND j.b_email IS NOT NULL AND b.organization_id = %(org)s AND b.email = j.b_email
              AND lower(btrim(b.first_name)) = lower(j.b_first)
              AND lower(btrim(b.last_name)) = lower(COALESCE(j.b_last, ''))
            ORDER BY b.id LIMIT 1
        )) AS borrower_id
        FROM joined j
    ),
    state AS (  -- the borrower before this row: stored, or a new one's defaults
        SELECT m.*,
               CASE WHEN m.borrower_id IS NULL THEN
                   CASE WHEN m.b_email IS NOT NULL
                        THEN 'e' || m.b_email || chr(31) || lower(m.b_first) || chr(31) || lower(COALESCE(m.b_last, ''))
                        ELSE 'l' || m.line END
               END AS new_key,
               COALESCE(m.b_state, CASE WHEN COALESCE(b.mailing_state, '') = '' THEN m.property_state END)
                 AS moved_to,
               COALESCE(b.first_name, '') AS old_first, COALESCE(b.last_name, '') AS old_last,
               COALESCE(b.email, '') AS old_email, COALESCE(b.mobile_phone, '') AS old_mobile,
               COALESCE(b.mailing_state, '') AS old_state, COALESCE(b.timezone, '') AS old_timezone,
               COALESCE(b.mailing_zip, '') AS old_zip,
               COALESCE(b.email_consent, false) AS old_email_consent,
               COALESCE(b.sms_consent, false) AS old_sms_consent, COALESCE(b.do_not_contact, false) AS old_dnc
        FROM matched m
        LEFT JOIN LATERAL (
            SELECT first_name, last_name, email, mobile_phone, mailing_state, mailing_zip, timezone, email_consent,
                   sms_consent, do_not_contact
            FROM {borrowers} WHERE id = m.borrower_id LIMIT 1
        ) b ON true
    ),
    computed AS (  -- the borrower after this row (``imports._Run._borrower_changes``)
        SELECT s.*, COALESCE(s.borrower_id::text, s.new_key) AS borrower_key,
               COALESCE(s.b_first, s.old_first) AS new_first, COALESCE(s.b_last, s.old_last) AS new_last,
               COALESCE(s.b_email, s.old_email) AS new_email, COALESCE(s.b_mobile, s.old_mobile) AS new_mobile,
               COALESCE(s.moved_to, s.old_state) AS new_state, COALESCE(s.b_zip, s.old_zip) AS new_zip,
               CASE WHEN s.b_timezone IS NOT NULL THEN s.b_timezone
                    WHEN COALESCE(s.b_zip_zone, '') <> '' THEN s.b_zip_zone
                    WHEN s.moved_to IS NOT NULL AND (s.moved_to <> s.old_state OR s.old_timezone = '')
                    THEN COALESCE(z.zone, '')
                    ELSE s.old_timezone END AS new_timezone,
               (s.email_consent IS TRUE AND NOT s.old_email_consent) AS email_granted,
               (s.email_consent IS FALSE AND s.old_email_consent) AS email_revoked,
               (s.sms_consent IS TRUE AND NOT s.old_sms_consent) AS sms_granted,
               (s.sms_consent IS FALSE AND s.old_sms_consent) AS sms_revoked,
               (s.do_not_contact IS TRUE AND NOT s.old_dnc) AS dnc_set
        FROM state s LEFT JOIN _import_zones z ON z.code = s.moved_to
    ),
    flagged AS (
        SELECT c.*,
               (c.new_first, c.new_last, c.new_email, c.new_mobile, c.new_state, c.new_timezone, c.new_zip)
                 IS DISTINCT FROM
                 (c.old_first, c.old_last, c.old_email, c.old_mobile, c.old_state, c.old_timezone, c.old_zip)
                 OR c.email_granted OR c.email_revoked OR c.sms_granted OR c.sms_revoked OR c.dnc_set AS differs,
               {outcome} IS DISTINCT FROM lag({outcome}) OVER by_line AS differs_from_previous,
               {email_consent} AS new_email_consent, {sms_consent} AS new_sms_consent,
               c.dnc_set OR c.old_dnc AS new_dnc,
               row_number() OVER by_line AS borrower_row,
               count(*) OVER (PARTITION BY c.borrower_key) AS borrower_rows,
               first_value(c.line) OVER by_line AS first_line,
               first_value(c.loan_number) OVER by_line AS first_loan_number
        FROM computed c
        WINDOW by_line AS (PARTITION BY c.borrower_key ORDER BY c.line)
    ),
    heads AS MATERIALIZED (  -- a new borrower's id, on the row that gives its values (the last one)
        SELECT f.*, CASE WHEN f.borrower_row = 1 THEN f.differs ELSE f.differs_from_previous END AS borrower_changed,
               f.borrower_row = f.borrower_rows AS is_last,
               CASE WHEN f.borrower_id IS NULL AND f.borrower_row = f.borrower_rows
                    THEN nextval(%(borrower_sequence)s::regclass) END AS head_id
        FROM flagged f
    ),
    planned AS MATERIALIZED (
        SELECT h.*, COALESCE(h.borrower_id, max(h.head_id) OVER (PARTITION BY h.borrower_key)) AS final_borrower_id
        FROM heads h
    )"""
    counts = """
    SELECT count(*) FILTER (WHERE loan_id IS NULL),
           count(*) FILTER (WHERE loan_id IS NOT NULL AND (loan_changed OR borrower_changed)),
           count(*) FILTER (WHERE loan_id IS NOT NULL AND NOT (loan_changed OR borrower_changed))
    FROM planned"""
    if not write:
        return plan + counts
    # The loan values come from the staging row itself (the plan carries only what it decided).
    insert_values = ", ".join(
        "r.upb_as_of_new" if name == "upb_as_of" else f"COALESCE(s.{name}, %(default_{name})s)" for name in LOAN_FIELDS
    )
    assignments = ", ".join(
        f"{name} = COALESCE({'r.upb_as_of_new' if name == 'upb_as_of' else 's.' + name}, l.{name})"
        for name in LOAN_FIELDS
    )
    writes = f""",
    new_borrowers AS (
        INSERT INTO {borrowers} (id, organization_id, first_name, last_name, email, mobile_phone, mailing_state,
            mailing_zip, timezone, email_consent, email_consent_at, sms_consent, sms_consent_at, sms_consent_source,
            do_not_contact, email_undeliverable_reason, sms_undeliverable_reason, created_at, updated_at)
        SELECT n.head_id, %(org)s::bigint, n.new_first, n.new_last, n.new_email, n.new_mobile, n.new_state,
            n.new_zip, n.new_timezone, n.new_email_consent, CASE WHEN n.email_granted THEN %(now)s::timestamptz END,
            n.new_sms_consent, CASE WHEN n.sms_granted THEN %(now)s::timestamptz END,
            CASE WHEN n.sms_granted THEN n.sms_consent_source ELSE '' END, n.new_dnc, '', '',
            %(now)s::timestamptz, %(now)s::timestamptz
        FROM planned n WHERE n.head_id IS NOT NULL ORDER BY n.line
    ),
    changed_borrowers AS (
        UPDATE {borrowers} b SET first_name = n.new_first, last_name = n.new_last, email = n.new_email,
            mobile_phone = n.new_mobile, mailing_state = n.new_state, mailing_zip = n.new_zip,
            timezone = n.new_timezone,
            email_consent = n.new_email_consent,
            email_consent_at = CASE WHEN n.email_granted THEN %(now)s::timestamptz ELSE b.email_consent_at END,
            sms_consent = n.new_sms_consent,
            sms_consent_at = CASE WHEN n.sms_granted THEN %(now)s::timestamptz ELSE b.sms_consent_at END,
            sms_consent_source = CASE WHEN n.sms_granted THEN n.sms_consent_source ELSE b.sms_consent_source END,
            do_not_contact = n.new_dnc, updated_at = %(now)s::timestamptz
        FROM planned n WHERE b.id = n.borrower_id AND n.is_last AND n.differs
    ),
    new_loans AS (
        INSERT INTO {loans} (organization_id, loan_number, borrower_id, loan_officer_id, branch_id, source,
            import_digest, created_at, updated_at, {", ".join(LOAN_FIELDS)})
        SELECT %(org)s::bigint, r.loan_number, r.final_borrower_id, s.officer_id, s.branch_id, %(source)s::text,
            COALESCE(s.digest, ''), %(now)s::timestamptz, %(now)s::timestamptz, {insert_values}
        FROM planned r JOIN _import_stage s ON s.line = r.line WHERE r.loan_id IS NULL ORDER BY r.line
    ),
    changed_loans AS (
        UPDATE {loans} l SET {assignments}, loan_officer_id = COALESCE(s.officer_id, l.loan_officer_id),
            branch_id = COALESCE(s.branch_id, l.branch_id),
            import_digest = COALESCE(s.digest, CASE WHEN r.loan_changed THEN '' ELSE l.import_digest END),
            updated_at = CASE WHEN r.loan_changed THEN %(now)s::timestamptz ELSE l.updated_at END
        FROM planned r JOIN _import_stage s ON s.line = r.line
        WHERE l.id = r.loan_id AND (r.loan_changed OR s.digest <> l.import_digest)
    ),
    consent_events AS (
        INSERT INTO {events} (organization_id, borrower_id, channel, action, source, detail, created_by_id, created_at)
        SELECT %(org)s::bigint, r.final_borrower_id, e.channel, e.action, %(consent_source)s::text,
            jsonb_build_object('loan_number', r.first_loan_number, 'line', r.first_line,
                               'import_id', %(import_id)s::bigint),
            %(user)s::bigint, %(now)s::timestamptz
        FROM planned r
        CROSS JOIN LATERAL (VALUES (1, %(email)s::text, %(granted)s::text, r.email_granted),
                                   (2, %(email)s::text, %(revoked)s::text, r.email_revoked),
                                   (3, %(sms)s::text, %(granted)s::text, r.sms_granted),
                                   (4, %(sms)s::text, %(revoked)s::text, r.sms_revoked),
                                   (5, '', %(dnc)s::text, r.dnc_set)) AS e(position, channel, action, happened)
        WHERE r.is_last AND e.happened
        ORDER BY r.first_line, e.position
    )"""
    return plan + writes + counts


__all__ = ["BORROWER_INPUTS", "chunk_statement"]
