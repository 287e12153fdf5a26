"""events held_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

An anomaly event stays open while its series is still away from its normal range
(detector/events.py): `held_at` is the last row that held it open, kept apart from
`last_at` (the last anomalous point) so that an event's points keep their meaning.
Existing rows get NULL: nothing held them.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql'
)


def upgrade() -> None:
    op.add_column('events', sa.Column('held_at', TIMESTAMP, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('held_at')
