"""Accounts in PostgreSQL. Emails are stored lower-cased so lookups are case-insensitive."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, any_, case, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from adapters.orm import User
from domain.errors import DomainError, ErrorCode


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    first_name: str
    last_name: str
    password_hash: str
    roles: tuple[str, ...] = ("BUYER",)


def _record(row: object) -> UserRecord:
    r = row._mapping  # type: ignore[attr-defined]
    return UserRecord(
        id=str(r["id"]),
        email=r["email"],
        first_name=r["first_name"],
        last_name=r["last_name"],
        password_hash=r["password_hash"],
        roles=tuple(sorted(r["roles"])),
    )


_COLUMNS = (User.id, User.email, User.first_name, User.last_name, User.password_hash, User.roles)


class PostgresUsers:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, email: str, password_hash: str, first_name: str, last_name: str) -> UserRecord:
        """Raises DomainError INVALID_INPUT (field "email") if the email is registered."""
        values = {
            "id": uuid.uuid4(),
            "email": email.strip().lower(),
            "first_name": first_name,
            "last_name": last_name,
            "password_hash": password_hash,
        }
        try:
            with self._engine.begin() as conn:
                row = conn.execute(insert(User).values(**values).returning(*_COLUMNS)).one()
        except IntegrityError:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "this email is already registered", field="email"
            ) from None
        return _record(row)

    def get_by_email(self, email: str) -> UserRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(User.email == email.strip().lower())).first()
        return _record(row) if row is not None else None

    def get_by_id(self, user_id: str) -> UserRecord | None:
        try:
            key = uuid.UUID(str(user_id))
        except ValueError:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(select(*_COLUMNS).where(User.id == key)).first()
        return _record(row) if row is not None else None

    def grant_role(self, user_id: str, role: str) -> UserRecord | None:
        """Adds the role (once); None for an unknown user."""
        try:
            key = uuid.UUID(str(user_id))
        except ValueError:
            return None
        with self._engine.begin() as conn:
            row = conn.execute(
                update(User)
                .where(User.id == key)
                # Appended only when missing, from this row's own array: a subquery over
                # ``users`` here would read every user's roles, not this one's.
                .values(
                    roles=case(
                        (literal(role) == any_(User.roles), User.roles),
                        else_=func.array_append(User.roles, role),
                    )
                )
                .returning(*_COLUMNS)
            ).first()
        return _record(row) if row is not None else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        """Replaces the hash (a login upgrading it to the current parameters)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(User)
                .where(User.id == uuid.UUID(user_id))
                .values(password_hash=password_hash)
            )
