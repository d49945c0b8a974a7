"""MISMO 3.x XML (3.3 UCD, 3.4 ULAD exports): one loan per DEAL, any number of DEALs per MESSAGE.

Parsing is streamed and defused: ``defusedxml`` refuses entity declarations (so a "billion laughs" file
or an external entity is rejected before anything expands), and each DEAL is handed over and dropped as
soon as its end tag is read, so memory stays bounded by the largest single DEAL. Elements in the MISMO
namespace (with any prefix, or as the default namespace) and un-namespaced elements are read by local name;
extension elements of other namespaces are kept apart and never read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from loans.importers.base import FULL_NAME, ImportFileError, LoanRow, Opener, finish_row

MISMO_NS = "http://www.mismo.org/residential/2009/schemas"
CHUNK = 65536


def _local(tag: str) -> str:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return name if namespace == MISMO_NS else tag
    return tag


class _DealCollector:
    """Parser target: builds each DEAL subtree, records the line it starts on, and forgets it once taken."""

    def __init__(self) -> None:
        self.parser: DefusedXMLParser | None = None
        self.builder = TreeBuilder()
        self.stack: list[Element] = []
        self.open_deals = 0
        self.seen_root = False
        self.ready: list[Element] = []

    def start(self, tag: str, attrib: dict[str, str]) -> Element:
        name = _local(tag)
        if not self.seen_root:
            self.seen_root = True
            if name != "MESSAGE":
                namespace = tag[1:].partition("}")[0] if tag.startswith("{") else "no namespace"
                raise ImportFileError(
                    f"This XML is not a MISMO message: its root element is <{tag.rpartition('}')[2]}> "
                    f"({namespace}), expected <MESSAGE> in {MISMO_NS}."
                )
        element = self.builder.start(name, {_local(key): value for key, value in attrib.items()})
        if name == "DEAL":
            self.open_deals += 1
            assert self.parser is not None
            element.set("_line", str(self.parser.parser.CurrentLineNumber))
        self.stack.append(element)
        return element

    def end(self, tag: str) -> Element:
        element = self.builder.end(_local(tag))
        self.stack.pop()
        if element.tag == "DEAL":
            self.open_deals -= 1
            self.ready.append(element)
        if self.open_deals == 0 and self.stack:
            # Outside a DEAL nothing is kept: the tree never grows past one DEAL plus its ancestors.
            self.stack[-1].remove(element)
        return element

    def data(self, data: str) -> None:
        self.builder.data(data)

    def close(self) -> Element:
        return self.builder.close()


def iter_deals(opener: Opener) -> Iterator[Element]:
    collector = _DealCollector()
    parser = DefusedXMLParser(target=collector, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    collector.parser = parser
    deals = 0
    try:
        with opener() as stream:
            head = stream.read(CHUNK)
            if not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
                raise ImportFileError("This is not an XML file. Upload a MISMO 3.x XML export, or choose CSV.")
            chunk = head
            while chunk:
                parser.feed(chunk)
                while collector.ready:
                    deals += 1
                    yield collector.ready.pop(0)
                chunk = stream.read(CHUNK)
        parser.close()
    except DefusedXmlException as exc:
        raise ImportFileError(
            "The XML declares entities or external references, which imports refuse: this blocks entity-expansion "
            f"('billion laughs') and external-entity attacks ({type(exc).__name__})."
        ) from exc
    except ParseError as exc:
        raise ImportFileError(f"The XML is not well-formed: {exc}.") from exc
    if deals == 0:
        raise ImportFileError("The MISMO message holds no DEAL element, so there is no loan to import.")


def _text(element: Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _subject_loan(deal: Element) -> Element | None:
    loans = deal.findall("LOANS/LOAN")
    for loan in loans:
        if loan.get("LoanRoleType") == "SubjectLoan":
            return loan
    return loans[0] if loans else None


def _parties(deal: Element, role: str) -> list[Element]:
    return [
        party
        for party in deal.findall("PARTIES/PARTY")
        if any(r.text and r.text.strip() == role for r in party.findall("ROLES/ROLE/ROLE_DETAIL/PartyRoleType"))
    ]


def _loan_identifier(loan: Element, kind: str) -> str | None:
    for identifier in loan.findall("LOAN_IDENTIFIERS/LOAN_IDENTIFIER"):
        if _text(identifier, "LoanIdentifierType") == kind:
            return _text(identifier, "LoanIdentifier")
    return None


class MismoLoanImporter:
    def __init__(self, opener: Opener, *, today: dt.date) -> None:
        self.opener = opener
        self.today = today

    def loan_numbers(self) -> Iterator[tuple[int, str]]:
        for deal in iter_deals(self.opener):
            loan = _subject_loan(deal)
            yield int(deal.get("_line", "0")), (_loan_identifier(loan, "LenderLoan") or "") if loan is not None else ""

    def rows(self) -> Iterator[LoanRow]:
        for deal in iter_deals(self.opener):
            yield finish_row(self._row(deal), today=self.today)

    def describe(self) -> dict[str, object]:
        return {"columns": {}, "ignored": []}

    def _row(self, deal: Element) -> LoanRow:
        row = LoanRow(line=int(deal.get("_line", "0")))
        loan = _subject_loan(deal)
        if loan is None:
            row.error("loan_number", "the DEAL has no LOANS/LOAN")
            return row
        number = _loan_identifier(loan, "LenderLoan")
        row.set("loan_number", number, "LOAN_IDENTIFIER[LenderLoan]/LoanIdentifier")
        if number is None:
            row.error("loan_number", "no LoanIdentifier of LoanIdentifierType LenderLoan")
        row.set("mers_min", _loan_identifier(loan, "MERS_MIN"), "LOAN_IDENTIFIER[MERS_MIN]/LoanIdentifier")
        self._terms(row, loan)
        self._property(row, deal)
        self._borrower(row, deal)
        self._originator(row, deal)
        return row

    @staticmethod
    def _first(row: LoanRow, field: str, element: Element, *paths: str) -> None:
        for path in paths:
            value = _text(element, path)
            if value is not None:
                row.set(field, value, path.rpartition("/")[2])
                return
        row.labels.setdefault(field, paths[0].rpartition("/")[2])

    def _terms(self, row: LoanRow, loan: Element) -> None:
        first = self._first
        first(row, "note_rate", loan, "TERMS_OF_LOAN/NoteRatePercent")
        first(row, "current_rate", loan, "LOAN_DETAIL/CurrentInterestRatePercent")
        first(row, "original_amount", loan, "TERMS_OF_LOAN/NoteAmount", "TERMS_OF_LOAN/BaseLoanAmount")
        first(
            row,
            "note_date",
            loan,
            "TERMS_OF_LOAN/NoteDate",
            "CLOSING_INFORMATION/CLOSING_INFORMATION_DETAIL/ClosingDate",
            "LOAN_DETAIL/LoanFundingDate",
        )
        first(row, "first_payment_date", loan, "PAYMENT/PAYMENT_RULE/ScheduledFirstPaymentDate")
        first(row, "maturity_date", loan, "MATURITY/MATURITY_RULE/LoanMaturityDate")
        first(row, "current_upb", loan, "PAYMENT/PAYMENT_SUMMARY/UPBAmount")
        if "current_upb" in row.values:
            first(row, "upb_as_of", loan, "LOAN_STATE/LoanStateDate")
        first(row, "product_type", loan, "TERMS_OF_LOAN/MortgageType")
        first(row, "lien_position", loan, "TERMS_OF_LOAN/LienPriorityType")
        first(row, "amortization", loan, "AMORTIZATION/AMORTIZATION_RULE/AmortizationType")
        first(row, "purpose", loan, "TERMS_OF_LOAN/LoanPurposeType")
        cash_out = _text(loan, "REFINANCE/RefinanceCashOutDeterminationType")
        if row.values.get("purpose") == "rate_term_refi" and cash_out == "CashOut":
            row.values["purpose"] = "cash_out_refi"
        for rule, count_name, unit_name in (
            ("MATURITY/MATURITY_RULE", "LoanMaturityPeriodCount", "LoanMaturityPeriodType"),
            ("AMORTIZATION/AMORTIZATION_RULE", "LoanAmortizationPeriodCount", "LoanAmortizationPeriodType"),
        ):
            count = _text(loan, f"{rule}/{count_name}")
            if count is None:
                continue
            unit = _text(loan, f"{rule}/{unit_name}") or "Month"
            if unit not in ("Month", "Year"):
                row.labels["term_months"] = unit_name
                row.error("term_months", f"unsupported period type '{unit}' (use Month or Year)")
                return
            if unit == "Year" and count.isdigit():
                count = str(int(count) * 12)
            row.set("term_months", count, count_name)
            return
        row.labels.setdefault("term_months", "LoanMaturityPeriodCount")

    def _property(self, row: LoanRow, deal: Element) -> None:
        subject = deal.find("COLLATERALS/COLLATERAL/SUBJECT_PROPERTY")
        if subject is None:
            return
        valuation = "PROPERTY_VALUATIONS/PROPERTY_VALUATION/PROPERTY_VALUATION_DETAIL"
        self._first(
            row,
            "property_value",
            subject,
            f"{valuation}/PropertyValuationAmount",
            "PROPERTY_DETAIL/PropertyEstimatedValueAmount",
            "SALES_CONTRACTS/SALES_CONTRACT/SALES_CONTRACT_DETAIL/RealPropertyAmount",
            "SALES_CONTRACTS/SALES_CONTRACT/SALES_CONTRACT_DETAIL/SalesContractAmount",
        )
        if _text(subject, f"{valuation}/PropertyValuationAmount"):
            self._first(row, "property_value_date", subject, f"{valuation}/PropertyValuationEffectiveDate")
        self._first(row, "occupancy", subject, "PROPERTY_DETAIL/PropertyUsageType")
        self._first(row, "property_street", subject, "ADDRESS/AddressLineText")
        self._first(row, "property_city", subject, "ADDRESS/CityName")
        self._first(row, "property_state", subject, "ADDRESS/StateCode")
        self._first(row, "property_zip", subject, "ADDRESS/PostalCode")

    def _borrower(self, row: LoanRow, deal: Element) -> None:
        borrowers = _parties(deal, "Borrower")
        row.labels["borrower_first_name"] = "PARTY[Borrower]/INDIVIDUAL/NAME/FirstName"
        if not borrowers:
            row.error("borrower_first_name", "no PARTY with PartyRoleType Borrower")
            return
        party = borrowers[0]
        self._first(row, "borrower_first_name", party, "INDIVIDUAL/NAME/FirstName")
        self._first(row, "borrower_last_name", party, "INDIVIDUAL/NAME/LastName")
        if "borrower_first_name" not in row.values:
            full = _text(party, "INDIVIDUAL/NAME/FullName") or _text(party, "LEGAL_ENTITY/LEGAL_ENTITY_DETAIL/FullName")
            if full:
                row.values[FULL_NAME] = full[:201]
        email = next((e.text.strip() for e in party.iter("ContactPointEmailValue") if e.text and e.text.strip()), None)
        row.set("borrower_email", email, "ContactPointEmailValue")
        row.set("borrower_mobile", self._mobile(party), "ContactPointTelephoneValue")
        for address in party.findall("ADDRESSES/ADDRESS"):
            if _text(address, "AddressType") in ("Mailing", "Current", None) and _text(address, "StateCode"):
                row.set("borrower_state", _text(address, "StateCode"), "ADDRESS/StateCode")
                row.set("borrower_zip", _text(address, "PostalCode"), "ADDRESS/PostalCode")
                break

    @staticmethod
    def _mobile(party: Element) -> str | None:
        """The borrower's mobile number: a Mobile contact point, else a phone with no role given."""
        unlabelled = None
        for point in party.iter("CONTACT_POINT"):
            phone = _text(point, "CONTACT_POINT_TELEPHONE/ContactPointTelephoneValue")
            if phone is None:
                continue
            role = _text(point, "CONTACT_POINT_DETAIL/ContactPointRoleType")
            if role == "Mobile":
                return phone
            if role is None and unlabelled is None:
                unlabelled = phone
        return unlabelled

    @staticmethod
    def _originator(row: LoanRow, deal: Element) -> None:
        for party in _parties(deal, "LoanOriginator"):
            nmls = next(
                (e.text.strip() for e in party.iter("LicenseIdentifier") if e.text and e.text.strip()),
                None,
            )
            email = next(
                (e.text.strip() for e in party.iter("ContactPointEmailValue") if e.text and e.text.strip()),
                None,
            )
            if nmls or email:
                row.set("loan_officer", nmls or email, "PARTY[LoanOriginator]")
                return
