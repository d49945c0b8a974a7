from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from loans.models import Loan, LoanImport
from loans.services.imports import loan_import_commit, loan_import_preview
from tests.factories import LoanOfficerFactory, OrgAdminFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mismo33_ucd_excerpt_TRIDent.xml"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def admin(db):
    return OrgAdminFactory()


def preview(admin, data: bytes, name: str = "export.xml", **kwargs) -> LoanImport:
    handle = io.BytesIO(data)
    handle.name = name
    return loan_import_preview(organization=admin.organization, file=handle, user=admin.user, **kwargs)


def deal(number: str, *, rate: str = "6.2500", amount: str = "350000.00", extra: str = "", borrower: str = "") -> str:
    borrower = (
        borrower
        or """
        <INDIVIDUAL>
          <CONTACT_POINTS>
            <CONTACT_POINT><CONTACT_POINT_EMAIL><ContactPointEmailValue>Pat.Quinn@Example.com</ContactPointEmailValue>
            </CONTACT_POINT_EMAIL></CONTACT_POINT>
            <CONTACT_POINT><CONTACT_POINT_TELEPHONE><ContactPointTelephoneValue>6085550123</ContactPointTelephoneValue>
            </CONTACT_POINT_TELEPHONE><CONTACT_POINT_DETAIL><ContactPointRoleType>Home</ContactPointRoleType>
            </CONTACT_POINT_DETAIL></CONTACT_POINT>
            <CONTACT_POINT><CONTACT_POINT_TELEPHONE>
              <ContactPointTelephoneValue>(608) 555-0188</ContactPointTelephoneValue>
            </CONTACT_POINT_TELEPHONE><CONTACT_POINT_DETAIL><ContactPointRoleType>Mobile</ContactPointRoleType>
            </CONTACT_POINT_DETAIL></CONTACT_POINT>
          </CONTACT_POINTS>
          <NAME><FirstName>Pat</FirstName><LastName>Quinn</LastName></NAME>
        </INDIVIDUAL>"""
    )
    return f"""
    <DEAL>
      <COLLATERALS><COLLATERAL><SUBJECT_PROPERTY>
        <ADDRESS><AddressLineText>12 Elm St</AddressLineText><CityName>Madison</CityName>
          <PostalCode>53703</PostalCode><StateCode>WI</StateCode></ADDRESS>
        <PROPERTY_DETAIL><PropertyUsageType>SecondHome</PropertyUsageType></PROPERTY_DETAIL>
        <PROPERTY_VALUATIONS><PROPERTY_VALUATION><PROPERTY_VALUATION_DETAIL>
          <PropertyValuationAmount>480000.00</PropertyValuationAmount>
          <PropertyValuationEffectiveDate>2022-05-02</PropertyValuationEffectiveDate>
        </PROPERTY_VALUATION_DETAIL></PROPERTY_VALUATION></PROPERTY_VALUATIONS>
      </SUBJECT_PROPERTY></COLLATERAL></COLLATERALS>
      <LOANS>
        <LOAN LoanRoleType="SubjectLoan">
          <AMORTIZATION><AMORTIZATION_RULE><AmortizationType>Fixed</AmortizationType>
            <LoanAmortizationPeriodCount>30</LoanAmortizationPeriodCount>
            <LoanAmortizationPeriodType>Year</LoanAmortizationPeriodType></AMORTIZATION_RULE></AMORTIZATION>
          <LOAN_IDENTIFIERS><LOAN_IDENTIFIER><LoanIdentifier>{number}</LoanIdentifier>
            <LoanIdentifierType>LenderLoan</LoanIdentifierType></LOAN_IDENTIFIER></LOAN_IDENTIFIERS>
          <PAYMENT><PAYMENT_RULE><ScheduledFirstPaymentDate>2022-07-01</ScheduledFirstPaymentDate></PAYMENT_RULE>
            <PAYMENT_SUMMARY><UPBAmount>331234.56</UPBAmount></PAYMENT_SUMMARY></PAYMENT>
          <LOAN_STATE><LoanStateDate>2025-01-31</LoanStateDate><LoanStateType>Current</LoanStateType></LOAN_STATE>
          <TERMS_OF_LOAN><LienPriorityType>FirstLien</LienPriorityType><LoanPurposeType>Refinance</LoanPurposeType>
            <MortgageType>VA</MortgageType><NoteAmount>{amount}</NoteAmount><NoteDate>2022-05-20</NoteDate>
            <NoteRatePercent>{rate}</NoteRatePercent></TERMS_OF_LOAN>
          <REFINANCE><RefinanceCashOutDeterminationType>CashOut</RefinanceCashOutDeterminationType></REFINANCE>
          {extra}
        </LOAN>
      </LOANS>
      <PARTIES>
        <PARTY>{borrower}
          <ROLES><ROLE><ROLE_DETAIL><PartyRoleType>Borrower</PartyRoleType></ROLE_DETAIL></ROLE></ROLES>
        </PARTY>
      </PARTIES>
    </DEAL>"""


def message(*deals: str, root: str = '<MESSAGE xmlns="http://www.mismo.org/residential/2009/schemas">') -> bytes:
    body = "".join(deals)
    wrapped = f"<DEAL_SETS><DEAL_SET><DEALS>{body}</DEALS></DEAL_SET></DEAL_SETS></MESSAGE>"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{root}{wrapped}'.encode()


def test_trident_ucd_excerpt_parses_into_the_expected_loan(admin):
    loan_import = preview(admin, FIXTURE.read_bytes(), name="page3FullData.xml")
    assert loan_import.format == LoanImport.Format.MISMO
    assert loan_import.status == LoanImport.Status.PREVIEWED, loan_import.errors
    assert (loan_import.total_rows, loan_import.created_count) == (1, 1)
    loan_import_commit(loan_import=loan_import)

    loan = Loan.objects.select_related("borrower").get()
    assert loan.loan_number == "6830011782"
    assert loan.mers_min == "10293847561029384"
    assert loan.note_rate == Decimal("3.950")
    assert loan.original_amount == Decimal("127500.00")
    assert loan.term_months == 360
    assert loan.note_date == dt.date(2016, 5, 31)  # no NoteDate: the closing date
    assert loan.first_payment_date == dt.date(2016, 7, 1)  # derived: 1st of the second month after closing
    assert loan.maturity_date == dt.date(2046, 6, 1)
    assert loan.amortization == "arm"  # AdjustableRate
    assert loan.product_type == "conforming"  # Conventional under the 2016 limit
    assert loan.purpose == Loan.Purpose.PURCHASE
    assert loan.lien_position == Loan.Lien.FIRST
    assert loan.property_value == Decimal("150000.00")  # the sales contract's real property amount
    assert loan.property_value_date == dt.date(2016, 5, 31)
    assert (loan.property_street, loan.property_city, loan.property_state, loan.property_zip) == (
        "7025 WEST MAPLE STREET",
        "COLUMBIA",
        "IL",
        "62236-0234",
    )
    assert loan.source == Loan.Source.MISMO
    assert (loan.borrower.first_name, loan.borrower.last_name) == ("RANDALL", "CUSBREGRLOAN")
    assert loan.borrower.mailing_state == "IL"


def test_many_deals_default_namespace_individual_names_and_mobile(admin):
    data = message(deal("M-1"), deal("M-2", rate="5.125", amount="300000"))
    result = loan_import_commit(loan_import=preview(admin, data))
    assert (result.status, result.created_count) == (LoanImport.Status.COMMITTED, 2)
    loan = Loan.objects.select_related("borrower").get(loan_number="M-1")
    assert loan.term_months == 360  # 30 Year
    assert (loan.product_type, loan.purpose, loan.occupancy) == ("va", "cash_out_refi", "second_home")
    assert (loan.current_upb, loan.upb_as_of) == (Decimal("331234.56"), dt.date(2025, 1, 31))
    assert (loan.property_value, loan.property_value_date) == (Decimal("480000.00"), dt.date(2022, 5, 2))
    assert loan.first_payment_date == dt.date(2022, 7, 1)
    assert loan.borrower.email == "pat.quinn@example.com"
    assert loan.borrower.mobile_phone == "+16085550188"  # the Mobile contact point, not Home
    assert loan.borrower.mailing_state == "WI"  # from the property when the party has no mailing address
    assert Loan.objects.get(loan_number="M-2").note_rate == Decimal("5.125")
    # both deals name the same borrower (email + name): one Borrower row
    assert Loan.objects.get(loan_number="M-2").borrower_id == loan.borrower_id


def test_prefixed_namespace_and_reimport_is_unchanged(admin):
    root = '<m:MESSAGE xmlns:m="http://www.mismo.org/residential/2009/schemas">'
    prefixed = message(deal("P-1"), root=root).decode()
    for tag in ("DEAL_SETS", "DEAL_SET", "DEALS", "DEAL", "LOANS", "LOAN ", "LOAN>", "TERMS_OF_LOAN"):
        prefixed = prefixed.replace(f"<{tag}", f"<m:{tag}").replace(f"</{tag}", f"</m:{tag}")
    prefixed = prefixed.replace("</MESSAGE>", "</m:MESSAGE>")
    first = loan_import_commit(loan_import=preview(admin, prefixed.encode()))
    assert first.created_count == 1, first.errors
    stamp = Loan.objects.get().updated_at
    again = loan_import_commit(loan_import=preview(admin, prefixed.encode()))
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 1)
    assert Loan.objects.get().updated_at == stamp


def test_bad_deal_is_reported_with_its_line_and_element(admin):
    data = message(deal("G-1"), deal("B-2", rate="42.0"))
    loan_import = preview(admin, data)
    [error] = loan_import.errors
    assert error["column"] == "NoteRatePercent"
    assert "rate out of range" in error["message"]
    assert error["loan_number"] == "B-2"
    lines = data.decode().splitlines()
    assert lines[error["line"] - 1].strip() == "<DEAL>"
    assert loan_import_commit(loan_import=loan_import).status == LoanImport.Status.REJECTED
    assert not Loan.objects.exists()


def test_duplicate_deal_loan_numbers_reject_both(admin):
    loan_import = preview(admin, message(deal("D-1"), deal("D-1")))
    assert loan_import.rejected_count == 2


def test_missing_lender_loan_identifier_and_borrower(admin):
    broken = deal("X").replace("LenderLoan", "MERS_MIN").replace("PartyRoleType>Borrower", "PartyRoleType>Seller")
    data = message(broken)
    loan_import = preview(admin, data)
    messages = " | ".join(e["message"] for e in loan_import.errors)
    assert "no LoanIdentifier of LoanIdentifierType LenderLoan" in messages
    assert "no PARTY with PartyRoleType Borrower" in messages


def test_loan_originator_nmls_must_be_staff(admin):
    officer = LoanOfficerFactory(organization=admin.organization, nmls_id="445566")
    originator = """<PARTY><ROLES><ROLE><LICENSES><LICENSE><LICENSE_DETAIL><LicenseIdentifier>{}</LicenseIdentifier>
      </LICENSE_DETAIL></LICENSE></LICENSES><ROLE_DETAIL><PartyRoleType>LoanOriginator</PartyRoleType></ROLE_DETAIL>
      </ROLE></ROLES></PARTY>"""
    known = deal("O-1").replace("</PARTIES>", originator.format("445566") + "</PARTIES>")
    unknown = deal("O-2").replace("</PARTIES>", originator.format("000001") + "</PARTIES>")
    loan_import = preview(admin, message(known, unknown))
    assert [e["loan_number"] for e in loan_import.errors] == ["O-2"]
    loan_import_commit(loan_import=loan_import, allow_partial=True)
    assert Loan.objects.get().loan_officer == officer


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE MESSAGE [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<MESSAGE xmlns="http://www.mismo.org/residential/2009/schemas">&lol9;</MESSAGE>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE MESSAGE [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<MESSAGE xmlns="http://www.mismo.org/residential/2009/schemas">&xxe;</MESSAGE>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused(admin, payload):
    loan_import = preview(admin, payload)
    assert loan_import.status == LoanImport.Status.REJECTED
    assert "billion laughs" in loan_import.errors[0]["message"]
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "not a MISMO message"),
        (b'<MESSAGE xmlns="urn:other"><DEAL/></MESSAGE>', "not a MISMO message"),
        (b'<MESSAGE xmlns="http://www.mismo.org/residential/2009/schemas"><ABOUT_VERSIONS/></MESSAGE>', "no DEAL"),
        (b"<MESSAGE><DEAL><LOANS>", "not well-formed"),
        (b"Loan Number,Rate\n1,2\n", "not an XML file"),
    ],
)
def test_xml_that_is_not_mismo_is_refused(admin, payload, reason):
    loan_import = preview(admin, payload, format="mismo")
    assert loan_import.status == LoanImport.Status.REJECTED
    assert reason in loan_import.errors[0]["message"]
