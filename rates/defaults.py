"""The market series refiapp knows and which series prices which product by default (DESIGN §5)."""

from __future__ import annotations

from core.choices import ProductType

# code: (title, product_type, term_months, frequency)
SERIES: dict[str, tuple[str, str, int, str]] = {
    "OBMMIC30YF": ("30-Year Fixed Rate Conforming Mortgage Index (Optimal Blue)", ProductType.CONFORMING, 360, "daily"),
    "OBMMIC15YF": ("15-Year Fixed Rate Conforming Mortgage Index (Optimal Blue)", ProductType.CONFORMING, 180, "daily"),
    "OBMMIJUMBO30YF": ("30-Year Fixed Rate Jumbo Mortgage Index (Optimal Blue)", ProductType.JUMBO, 360, "daily"),
    "OBMMIFHA30YF": ("30-Year Fixed Rate FHA Mortgage Index (Optimal Blue)", ProductType.FHA, 360, "daily"),
    "OBMMIVA30YF": ("30-Year Fixed Rate Veterans Affairs Mortgage Index (Optimal Blue)", ProductType.VA, 360, "daily"),
    "OBMMIUSDA30YF": ("30-Year Fixed Rate USDA Mortgage Index (Optimal Blue)", ProductType.USDA, 360, "daily"),
    "MORTGAGE30US": ("30-Year Fixed Rate Mortgage Average in the United States (Freddie Mac PMMS)", "", 360, "weekly"),
    "MORTGAGE15US": ("15-Year Fixed Rate Mortgage Average in the United States (Freddie Mac PMMS)", "", 180, "weekly"),
}

# (product_type, term bucket in months): (series, fallback series)
MAPPINGS: dict[tuple[str, int], tuple[str, str]] = {
    (ProductType.CONFORMING, 360): ("OBMMIC30YF", "MORTGAGE30US"),
    (ProductType.CONFORMING, 180): ("OBMMIC15YF", "MORTGAGE15US"),
    (ProductType.JUMBO, 360): ("OBMMIJUMBO30YF", "MORTGAGE30US"),
    (ProductType.JUMBO, 180): ("MORTGAGE15US", "MORTGAGE15US"),
    (ProductType.FHA, 360): ("OBMMIFHA30YF", "MORTGAGE30US"),
    (ProductType.FHA, 180): ("MORTGAGE15US", "MORTGAGE15US"),
    (ProductType.VA, 360): ("OBMMIVA30YF", "MORTGAGE30US"),
    (ProductType.VA, 180): ("MORTGAGE15US", "MORTGAGE15US"),
    (ProductType.USDA, 360): ("OBMMIUSDA30YF", "MORTGAGE30US"),
    (ProductType.USDA, 180): ("MORTGAGE15US", "MORTGAGE15US"),
}
