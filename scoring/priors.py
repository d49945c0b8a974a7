"""The documented prior weights: the score an organization gets before it has enough outcomes of its own.

They are a reasonable starting point, not a fitted model, and the Model page says so. Each feature is read as
(value − reference) / unit, times its weight, on the log-odds scale; a missing value counts as the reference
(no effect). The intercept is the log-odds of a 4 % chance of an application within 90 days, roughly what a
refinance campaign converts; an opportunity has a higher score when it beats the typical one on what matters:

* a wider spread and larger savings make a refinance worth the borrower's trouble (per 0.5 pt of spread
  +0.5; per $200 a month +0.35; per $40,000 of lifetime interest +0.25);
* equity makes it possible: every 15 LTV points above 70 % cost −0.30, every $150,000 of equity adds +0.15;
  a larger balance saves more dollars (+0.20 per $200,000);
* a better credit score qualifies for the advertised rate (+0.25 per 60 points above 720);
* streamline programs are easier for VA (+0.10) and harder to act on for FHA/USDA (−0.20) and jumbo (−0.10);
* older loans move a little less (−0.10 per two years);
* engagement is the strongest signal: each email opened in the last 90 days +0.25, each click +0.8, each reply
  +1.0, each booked call +1.6; each message sent without a response so far −0.05.
"""

from __future__ import annotations

import math

# name: (reference, unit, weight per unit)
PRIOR_WEIGHTS: dict[str, tuple[float, float, float]] = {
    "spread": (1.0, 0.5, 0.5),
    "monthly_savings": (250.0, 200.0, 0.35),
    "lifetime_savings": (40_000.0, 40_000.0, 0.25),
    "current_ltv": (70.0, 15.0, -0.30),
    "equity": (150_000.0, 150_000.0, 0.15),
    "months_since_origination": (36.0, 24.0, -0.10),
    "balance": (300_000.0, 200_000.0, 0.20),
    "credit_score": (720.0, 60.0, 0.25),
    "product_jumbo": (0.0, 1.0, -0.10),
    "product_fha": (0.0, 1.0, -0.20),
    "product_va": (0.0, 1.0, 0.10),
    "product_usda": (0.0, 1.0, -0.20),
    "opens_90d": (0.0, 1.0, 0.25),
    "clicks_90d": (0.0, 1.0, 0.8),
    "replies_90d": (0.0, 1.0, 1.0),
    "bookings_90d": (0.0, 1.0, 1.6),
    "touches": (0.0, 1.0, -0.05),
}
PRIOR_BASE_RATE = 0.04
PRIOR_INTERCEPT = math.log(PRIOR_BASE_RATE / (1 - PRIOR_BASE_RATE))
