"""factory_boy factories for every model. Defaults build one consistent tenant per factory call chain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils.timezone import now

from core.choices import Channel, ProductType
from core.models import ApiToken, Branch, LoanOfficer, Organization
from loans.models import Borrower, Loan, LoanProduct
from outreach.models import Enrollment, Message, Sequence, SequenceStep
from pipeline.models import Activity, MatchRun, Opportunity, ThresholdRule
from rates.models import RateObservation, RateSeries, SeriesMapping
from refinance.models import RefinanceTransaction


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Lender {n}")
    slug = factory.Sequence(lambda n: f"lender-{n}")
    nmls_id = factory.Sequence(lambda n: f"{100000 + n}")
    postal_address = "100 Main Street, Suite 200, Springfield, IL 62701"
    timezone = "America/Chicago"


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")
    code = factory.Sequence(lambda n: f"B{n:03d}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-12345")

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            self.save()


class LoanOfficerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoanOfficer

    user = factory.SubFactory(UserFactory)
    organization = factory.LazyAttribute(lambda o: o.branch.organization if o.branch else OrganizationFactory())
    branch = factory.SubFactory(BranchFactory)
    role = LoanOfficer.Role.LOAN_OFFICER
    display_name = factory.Sequence(lambda n: f"Officer {n}")
    nmls_id = factory.Sequence(lambda n: f"{200000 + n}")
    email = factory.Sequence(lambda n: f"officer{n}@lender.example.com")
    phone = "+13125550100"
    scheduling_url = "https://calendly.example.com/officer"


class BranchManagerFactory(LoanOfficerFactory):
    class Meta:
        skip_postgeneration_save = True

    role = LoanOfficer.Role.BRANCH_MANAGER

    @factory.post_generation
    def staff(self, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            self.user.is_staff = True
            self.user.save(update_fields=["is_staff"])


class OrgAdminFactory(BranchManagerFactory):
    role = LoanOfficer.Role.ORG_ADMIN
    branch = None
    organization = factory.SubFactory(OrganizationFactory)


class BorrowerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Borrower

    organization = factory.SubFactory(OrganizationFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"borrower{n}@mail.example.com")
    mobile_phone = factory.Sequence(lambda n: f"+1312555{n % 10000:04d}")
    mailing_state = "IL"
    timezone = "America/Chicago"
    email_consent = True
    email_consent_at = factory.LazyFunction(now)
    sms_consent = True
    sms_consent_at = factory.LazyFunction(now)
    sms_consent_source = "Signed consent at application (test)"


class LoanProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LoanProduct
        django_get_or_create = ("organization", "code")

    organization = factory.SubFactory(OrganizationFactory)
    code = "CONF30"
    name = "Conforming 30-year fixed"
    product_type = ProductType.CONFORMING
    term_months = 360
    max_ltv_rate_term = Decimal("97.00")
    max_ltv_cash_out = Decimal("80.00")
    min_credit_score = 620
    max_dti = Decimal("50.00")
    max_loan_amount = Decimal("832750.00")


class LoanFactory(factory.django.DjangoModelFactory):
    """A 30-year fixed conforming purchase loan from 2023 at 7.25 %: in the money at 2025-26 rates."""

    class Meta:
        model = Loan

    loan_officer = factory.SubFactory(LoanOfficerFactory)
    organization = factory.LazyAttribute(lambda o: o.loan_officer.organization)
    branch = factory.LazyAttribute(lambda o: o.loan_officer.branch)
    borrower = factory.SubFactory(BorrowerFactory, organization=factory.SelfAttribute("..organization"))
    loan_number = factory.Sequence(lambda n: f"LN{100000 + n}")
    product_type = ProductType.CONFORMING
    original_amount = Decimal("400000.00")
    note_rate = Decimal("7.250")
    term_months = 360
    note_date = dt.date(2023, 10, 16)
    first_payment_date = dt.date(2023, 12, 1)
    maturity_date = dt.date(2053, 11, 1)
    property_value = Decimal("520000.00")
    property_value_date = dt.date(2023, 10, 1)
    property_state = "IL"
    credit_score = 740
    dti = Decimal("36.00")
    status = Loan.Status.ACTIVE
    source = Loan.Source.MANUAL


class RateSeriesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateSeries
        django_get_or_create = ("code",)

    organization = None
    code = "OBMMIC30YF"
    title = "30-Year Fixed Rate Conforming Mortgage Index"
    source = RateSeries.Source.FRED
    product_type = ProductType.CONFORMING
    term_months = 360
    fetch_enabled = True


class RateObservationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateObservation

    series = factory.SubFactory(RateSeriesFactory)
    date = dt.date(2026, 11, 20)
    rate = Decimal("6.125")


class SeriesMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SeriesMapping

    organization = factory.SubFactory(OrganizationFactory)
    product_type = ProductType.CONFORMING
    term_months = 360
    series = factory.SubFactory(RateSeriesFactory)


class ThresholdRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ThresholdRule

    organization = factory.SubFactory(OrganizationFactory)
    product_type = ProductType.CONFORMING
    min_balance = Decimal("150000.00")
    max_balance = None
    min_spread = Decimal("0.625")


class MatchRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MatchRun

    organization = factory.SubFactory(OrganizationFactory)
    as_of = dt.date(2026, 11, 20)
    status = MatchRun.Status.SUCCEEDED
    rule = Organization.MatchingRule.FLAT


class OpportunityFactory(factory.django.DjangoModelFactory):
    """The numbers loans.finance gives for LoanFactory's loan on 2026-11-22 at 6.125 %."""

    class Meta:
        model = Opportunity

    loan = factory.SubFactory(LoanFactory)
    organization = factory.LazyAttribute(lambda o: o.loan.organization)
    borrower = factory.LazyAttribute(lambda o: o.loan.borrower)
    loan_officer = factory.LazyAttribute(lambda o: o.loan.loan_officer)
    branch = factory.LazyAttribute(lambda o: o.loan.branch)
    product_type = factory.LazyAttribute(lambda o: o.loan.product_type)
    stage = Opportunity.Stage.NEW
    first_matched_at = factory.LazyFunction(now)
    last_matched_at = factory.LazyFunction(now)
    market_series = "OBMMIC30YF"
    market_rate = Decimal("6.125")
    market_rate_date = dt.date(2026, 11, 20)
    note_rate = factory.LazyAttribute(lambda o: o.loan.note_rate)
    spread = Decimal("1.125")
    threshold = Decimal("0.625")
    optimal_threshold = Decimal("1.020")
    remaining_months = 324
    current_balance = Decimal("387493.18")
    current_payment = Decimal("2728.71")
    new_payment = Decimal("2448.23")
    monthly_savings = Decimal("280.48")
    total_interest_savings = Decimal("90869.24")
    closing_costs = Decimal("5374.93")
    break_even_months = 20
    net_benefit = Decimal("85494.31")
    matched_spread = factory.LazyAttribute(lambda o: o.spread)
    matched_threshold = factory.LazyAttribute(lambda o: o.threshold)
    match_run = None
    matched_rule = factory.LazyAttribute(lambda o: o.match_run.rule if o.match_run else "")


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    opportunity = factory.SubFactory(OpportunityFactory)
    organization = factory.LazyAttribute(lambda o: o.opportunity.organization)
    borrower = factory.LazyAttribute(lambda o: o.opportunity.borrower)
    kind = Activity.Kind.NOTE
    body = "Called, left a voicemail."
    occurred_at = factory.LazyFunction(now)


class SequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sequence

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Rate drop {n}")
    is_default = False


class SequenceStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SequenceStep

    sequence = factory.SubFactory(SequenceFactory)
    position = factory.Sequence(lambda n: n + 1)
    day_offset = 1
    channel = Channel.EMAIL
    subject_template = "{{ borrower_first_name }}, you could save {{ monthly_savings }} a month"
    body_template = "Hi {{ borrower_first_name }}, rates dropped to {{ todays_rate }}."


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    opportunity = factory.SubFactory(OpportunityFactory)
    organization = factory.LazyAttribute(lambda o: o.opportunity.organization)
    sequence = factory.SubFactory(SequenceFactory, organization=factory.SelfAttribute("..organization"))
    started_at = factory.LazyFunction(now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    enrollment = factory.SubFactory(EnrollmentFactory)
    organization = factory.LazyAttribute(lambda o: o.enrollment.organization)
    opportunity = factory.LazyAttribute(lambda o: o.enrollment.opportunity)
    borrower = factory.LazyAttribute(lambda o: o.enrollment.opportunity.borrower)
    step = factory.SubFactory(SequenceStepFactory, sequence=factory.SelfAttribute("..enrollment.sequence"))
    channel = factory.LazyAttribute(lambda o: o.step.channel)
    due_at = factory.LazyFunction(now)


class RefinanceTransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RefinanceTransaction

    existing_loan = factory.SubFactory(LoanFactory)
    organization = factory.LazyAttribute(lambda o: o.existing_loan.organization)
    reference = factory.Sequence(lambda n: f"RT-{n:08d}")
    product = factory.SubFactory(LoanProductFactory, organization=factory.SelfAttribute("..organization"))
    existing_balance = Decimal("389123.45")
    new_amount = Decimal("395000.00")
    new_rate = Decimal("6.125")
    new_term_months = 360
    closing_costs = Decimal("5450.00")
    effective_date = dt.date(2026, 12, 22)
    reason = "Lower interest rate"


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    name = "LOS integration"
    prefix = factory.Sequence(lambda n: f"rfa_{n:04d}")
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
