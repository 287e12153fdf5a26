"""label-tuned thresholds and summary views

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

The views are for people who query the store from their own tools (README, 'The
store'); the day expression differs per dialect.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('thresholds',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('monitor', sa.String(length=100), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('n_labels', sa.Integer(), nullable=False),
    sa.Column('precision', sa.Float(), nullable=False),
    sa.Column('recall', sa.Float(), nullable=False),
    sa.Column('chosen_by', sa.String(length=100), nullable=False),
    sa.Column('chosen_at', sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(mysql.DATETIME(fsp=6), 'mysql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_thresholds'))
    )
    with op.batch_alter_table('thresholds', schema=None) as batch_op:
        batch_op.create_index('ix_thresholds_monitor', ['monitor', 'chosen_at'], unique=False)

    day = {"sqlite": "date(ts)", "postgresql": "CAST(ts AS DATE)"}.get(
        op.get_bind().dialect.name, "CAST(ts AS DATE)"
    )
    op.execute(
        "CREATE VIEW anomaly_daily_counts AS "
        f"SELECT monitor, series, {day} AS day, COUNT(*) AS anomalies, "
        "SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS critical, "
        "MAX(score) AS max_score "
        f"FROM anomalies GROUP BY monitor, series, {day}"
    )
    op.execute(
        "CREATE VIEW monitor_run_stats AS "
        "SELECT monitor, status, COUNT(*) AS runs, SUM(rows_read) AS rows_read, "
        "SUM(points_scored) AS points_scored, SUM(anomalies) AS anomalies, "
        "MAX(started_at) AS last_started_at "
        "FROM runs GROUP BY monitor, status"
    )



def downgrade() -> None:
    op.execute("DROP VIEW monitor_run_stats")
    op.execute("DROP VIEW anomaly_daily_counts")
    with op.batch_alter_table('thresholds', schema=None) as batch_op:
        batch_op.drop_index('ix_thresholds_monitor')

    op.drop_table('thresholds')
