from loans.models.limits import LoanLimit
from loans.models.portfolio import Borrower, ConsentEvent, Loan, LoanImport, LoanProduct

__all__ = ["Borrower", "ConsentEvent", "Loan", "LoanImport", "LoanLimit", "LoanProduct"]
