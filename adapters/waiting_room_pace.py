"""The saga's pace as Temporal sees it: the event's checkouts that reached a terminal state."""

from __future__ import annotations

import uuid

from workflows.contract import SA_EVENT_ID, WORKFLOW_NAME


def finished_checkouts_query(event_id: str) -> str:
    """A visibility query counting the event's finished checkouts (any terminal state)."""
    event = str(uuid.UUID(event_id))  # never a quote inside the query
    return (
        f'WorkflowType = "{WORKFLOW_NAME}" AND {SA_EVENT_ID.name} = "{event}" '
        'AND ExecutionStatus != "Running"'
    )
