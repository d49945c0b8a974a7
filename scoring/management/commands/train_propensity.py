"""python manage.py train_propensity --org SLUG [--force]: train the organization's score now and say how it did."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.models import Organization
from scoring.services.scores import opportunities_score
from scoring.services.training import propensity_train


class Command(BaseCommand):
    help = (
        "Train the organization's propensity model on its own outcomes (prior weights until it has enough), "
        "rescore its open opportunities and print rows, positives, the holdout AUC and the savings-only comparison."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Organization slug.")
        parser.add_argument("--force", action="store_true", help="Retrain even if a model was built this week.")

    def handle(self, *args: Any, org: str, force: bool, **options: Any) -> None:
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        result = propensity_train(organization=organization, force=force)
        model = result.model
        self.stdout.write(f"{organization.slug}: {model.get_kind_display()}, built {model.trained_at:%Y-%m-%d %H:%M}")
        self.stdout.write(f"  {result.message}")
        self.stdout.write(f"  rows (outcomes)       {model.training_rows:>10,}")
        self.stdout.write(f"  positives             {model.training_positives:>10,}")
        self.stdout.write(f"  applications          {model.training_applications:>10,}")
        if model.holdout_auc is not None:
            self.stdout.write(
                f"  holdout {model.holdout_from} – {model.holdout_to}: {model.holdout_rows:,} rows, "
                f"{model.holdout_positives:,} positives, AUC {model.holdout_auc:.3f} "
                f"(ranking by lifetime savings: {model.savings_auc:.3f})"
            )
            c = model.comparison
            self.stdout.write(
                f"  last quarter's applications ({c['from']} – {c['to']}): {c['applications']}; in the top 20 % "
                f"by score: {c['model_top']}, by lifetime savings: {c['savings_top']}"
            )
        if not result.skipped:
            run = opportunities_score(organization=organization)
            self.stdout.write(f"  rescored {run.scored:,} open opportunities ({run.changed:,} changed)")
