from loans.models.activity import Activity
from loans.models.api import ApiToken, IdempotencyRecord
from loans.models.matching import MatchRun, Opportunity, ThresholdRule
from loans.models.portfolio import Borrower, ConsentEvent, Loan, LoanImport, LoanProduct
from loans.models.refinance import RefinanceEvent, RefinanceTransaction
from loans.models.tenancy import Branch, LoanOfficer, Organization

__all__ = [
    "Activity",
    "ApiToken",
    "Borrower",
    "Branch",
    "ConsentEvent",
    "IdempotencyRecord",
    "Loan",
    "LoanImport",
    "LoanOfficer",
    "LoanProduct",
    "MatchRun",
    "Opportunity",
    "Organization",
    "RefinanceEvent",
    "RefinanceTransaction",
    "ThresholdRule",
]
