"""What the pipeline tells the layers above it, without importing them (docs/architecture.md, "arrows").

Both are sent inside the writer's transaction, so a receiver's writes commit or roll back with it.
"""

from django.dispatch import Signal

# An opportunity moved stage: kwargs opportunity, from_stage, to_stage, actor, note.
stage_changed = Signal()

# An application (a refinance) started for an opportunity, whatever its stage: kwargs opportunity, actor, note.
application_started = Signal()
