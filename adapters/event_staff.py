"""Door staff: users an event's organizer named to check its tickets in."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, delete, exists, select
from sqlalchemy.dialects.postgresql import insert

from adapters.orm import EventStaffRow, User
from adapters.users import UserRecord


class PostgresEventStaff:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, event_id: str, user_id: str, added_by: str) -> None:
        """Idempotent: naming someone twice keeps the first record."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(EventStaffRow)
                .values(
                    event_id=uuid.UUID(event_id),
                    user_id=uuid.UUID(user_id),
                    added_by=uuid.UUID(added_by),
                )
                .on_conflict_do_nothing()
            )

    def remove(self, event_id: str, user_id: str) -> bool:
        """True if they were staff of the event."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(EventStaffRow).where(
                    EventStaffRow.event_id == uuid.UUID(event_id),
                    EventStaffRow.user_id == uuid.UUID(user_id),
                )
            )
        return result.rowcount > 0

    def is_staff(self, event_id: str, user_id: str) -> bool:
        with self._engine.connect() as conn:
            return bool(
                conn.execute(
                    select(
                        exists().where(
                            EventStaffRow.event_id == uuid.UUID(event_id),
                            EventStaffRow.user_id == uuid.UUID(user_id),
                        )
                    )
                ).scalar()
            )

    def of_event(self, event_id: str) -> list[UserRecord]:
        """The event's staff, by email. No password hashes leave this function."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(User.id, User.email, User.first_name, User.last_name, User.roles)
                .join(EventStaffRow, EventStaffRow.user_id == User.id)
                .where(EventStaffRow.event_id == uuid.UUID(event_id))
                .order_by(User.email)
            ).all()
        return [
            UserRecord(str(r.id), r.email, r.first_name, r.last_name, "", tuple(sorted(r.roles)))
            for r in rows
        ]
