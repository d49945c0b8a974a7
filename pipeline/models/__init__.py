from pipeline.models.activity import Activity
from pipeline.models.matching import MatchRun, Opportunity, ThresholdRule

__all__ = ["Activity", "MatchRun", "Opportunity", "ThresholdRule"]
