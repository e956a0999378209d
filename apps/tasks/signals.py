"""Events of the tasks app, sent explicitly by its services (DESIGN §3); qa and workforce receive them.

Sent inside the service's transaction, so a receiver's writes commit or roll back with it; receivers
that reach outside the database use transaction.on_commit.
"""

from django.dispatch import Signal

# annotation: Annotation; assignment: Assignment or None (attached outside the queue); actor: User
annotation_submitted = Signal()
# review: Review; annotation: Annotation; decision: "accept" | "reject" | "fix"
review_decided = Signal()
# assignment: Assignment; reason: "released" | "skipped" | "expired" | "revoked"
lease_ended = Signal()
# project: Project; scores: [(task_id, score or None)] of the predictions just stored
predictions_added = Signal()
