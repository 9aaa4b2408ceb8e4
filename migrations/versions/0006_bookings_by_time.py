"""bookings by time: the waiting room reads the latest orders

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 10:30:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_bookings_created_at', 'bookings', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_bookings_created_at', table_name='bookings')
