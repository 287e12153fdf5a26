"""feedback classifiers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Supervised classifiers trained on feedback labels (`anomwatch anomalies tune
--classifier`); later ticks store predicted false positives with
suppressed = 'classifier'.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "classifiers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("monitor", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("n_labels", sa.Integer(), nullable=False),
        sa.Column("artifact_path", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("trained_by", sa.String(length=100), nullable=False),
        sa.Column(
            "trained_at",
            sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mariadb").with_variant(mysql.DATETIME(fsp=6), "mysql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifiers")),
        sa.UniqueConstraint("monitor", "version", name=op.f("uq_classifiers_monitor_version")),
    )
    with op.batch_alter_table("classifiers", schema=None) as batch_op:
        batch_op.create_index("ix_classifiers_monitor_active", ["monitor", "active"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("classifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_classifiers_monitor_active")
    op.drop_table("classifiers")
