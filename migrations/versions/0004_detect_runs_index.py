"""detect runs index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

One row per offline analysis run (`anomwatch detect`). Each run's points live in
their own table `detect_<file>_c<contamination>`, created by anomwatch/offline.py
at run time; the downgrade drops those tables too, since only this index names them.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql'
)


def upgrade() -> None:
    op.create_table('detect_runs',
    sa.Column('run_key', sa.String(length=200), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('source_file', sa.String(length=1000), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('contamination', sa.Float(), nullable=False),
    sa.Column('components', sa.String(length=200), nullable=False),
    sa.Column('value_columns', sa.Text(), nullable=False),
    sa.Column('label_column', sa.String(length=255), nullable=True),
    sa.Column('n_points', sa.Integer(), nullable=False),
    sa.Column('n_anomalies', sa.Integer(), nullable=False),
    sa.Column('rows_stored', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('precision', sa.Float(), nullable=True),
    sa.Column('recall', sa.Float(), nullable=True),
    sa.Column('f1', sa.Float(), nullable=True),
    sa.Column('average_precision', sa.Float(), nullable=True),
    sa.Column('first_ts', TIMESTAMP, nullable=False),
    sa.Column('last_ts', TIMESTAMP, nullable=False),
    sa.Column('plot_dir', sa.String(length=1000), nullable=True),
    sa.Column('created_at', TIMESTAMP, nullable=False),
    sa.PrimaryKeyConstraint('run_key', name=op.f('pk_detect_runs')),
    sa.UniqueConstraint('table_name', name=op.f('uq_detect_runs_table_name'))
    )


def downgrade() -> None:
    bind = op.get_bind()
    names = bind.execute(sa.text('SELECT table_name FROM detect_runs')).scalars().all()
    existing = set(sa.inspect(bind).get_table_names())
    for name in names:
        if name.startswith('detect_') and name in existing:
            op.drop_table(name)
    op.drop_table('detect_runs')
