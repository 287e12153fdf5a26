"""double precision values on MariaDB/MySQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

sa.Float is single precision (FLOAT, 4 bytes) on MariaDB/MySQL but double precision
on PostgreSQL and SQLite: a MariaDB store rejected 1e308 ('Out of range') and kept
only ~7 significant digits of every value and score. Only MariaDB/MySQL columns
change; the other backends already store 8-byte floats.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (column, nullable)
COLUMNS: dict[str, list[tuple[str, bool]]] = {
    'anomalies': [('value', False), ('expected', True), ('lower', True), ('upper', True),
                  ('score', False)],
    'thresholds': [('threshold', False), ('precision', False), ('recall', False)],
    'detect_runs': [('contamination', False), ('threshold', False), ('precision', True),
                    ('recall', True), ('f1', True), ('average_precision', True)],
}


def _retype(new: sa.types.TypeEngine, old: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name not in ('mysql', 'mariadb'):
        return
    for table, columns in COLUMNS.items():
        for column, nullable in columns:
            op.alter_column(table, column, type_=new, existing_type=old,
                            existing_nullable=nullable)


def upgrade() -> None:
    _retype(sa.Double(), sa.Float())


def downgrade() -> None:
    _retype(sa.Float(), sa.Double())
