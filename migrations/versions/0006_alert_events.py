"""alert events

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Consecutive anomalous points of a series become one alert event (detector/events.py),
stored with its state so ticks, backfill and a replay continue the same event; health
checks of a monitor open events of kind 'health'. Anomalies reference their event,
digests keep the event lines they announced, and `event_cursors` records how far each
series has been fed to its events (a rerun never feeds a row twice).
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mariadb').with_variant(
    mysql.DATETIME(fsp=6), 'mysql'
)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# 0002's view over anomalies (SQLite form), recreated after SQLite's table copy
DAILY_COUNTS = (
    "CREATE VIEW anomaly_daily_counts AS "
    "SELECT monitor, series, date(ts) AS day, COUNT(*) AS anomalies, "
    "SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS critical, "
    "MAX(score) AS max_score "
    "FROM anomalies GROUP BY monitor, series, date(ts)"
)


def upgrade() -> None:
    op.create_table(
        'events',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('monitor', sa.String(length=100), nullable=False),
        sa.Column('series', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('started_at', TIMESTAMP, nullable=False),
        sa.Column('last_at', TIMESTAMP, nullable=False),
        sa.Column('resolved_at', TIMESTAMP, nullable=True),
        sa.Column('new_normal_at', TIMESTAMP, nullable=True),
        sa.Column('first_score', sa.Double(), nullable=True),
        sa.Column('peak_score', sa.Double(), nullable=True),
        sa.Column('peak_ts', TIMESTAMP, nullable=True),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('n_points', sa.Integer(), nullable=False),
        sa.Column('quiet_rows', sa.Integer(), server_default='0', nullable=False),
        sa.Column('announced_severity', sa.String(length=16), nullable=True),
        sa.Column('announced_peak', sa.Double(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('notice', sa.String(length=16), nullable=True),
        sa.Column('notice_at', TIMESTAMP, nullable=True),
        sa.Column('suppressed', sa.String(length=32), nullable=True),
        sa.Column('digest_id', BIG_ID, nullable=True),
        sa.Column('created_at', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(['digest_id'], ['digests.id'],
                                name=op.f('fk_events_digest_id_digests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
        sa.UniqueConstraint('monitor', 'series', 'kind', 'started_at',
                            name=op.f('uq_events_monitor_series_kind_started_at')),
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_monitor_status', ['monitor', 'status'], unique=False)
        batch_op.create_index('ix_events_monitor_started', ['monitor', 'started_at'],
                              unique=False)
        batch_op.create_index('ix_events_monitor_notice', ['monitor', 'notice'], unique=False)
    op.create_table(
        'event_cursors',
        sa.Column('monitor', sa.String(length=100), nullable=False),
        sa.Column('series', sa.String(length=255), nullable=False),
        sa.Column('last_ts', TIMESTAMP, nullable=False),
        sa.Column('updated_at', TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint('monitor', 'series', name=op.f('pk_event_cursors')),
    )
    # No batch (table copy) for anomalies on SQLite: it may be big, and the summary
    # views of 0002 refuse the rename. SQLite adds a nullable REFERENCES column in place.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE anomalies ADD COLUMN event_id INTEGER '
                   'CONSTRAINT fk_anomalies_event_id_events REFERENCES events (id)')
    else:
        op.add_column('anomalies', sa.Column('event_id', BIG_ID, nullable=True))
        op.create_foreign_key(op.f('fk_anomalies_event_id_events'), 'anomalies', 'events',
                              ['event_id'], ['id'])
    op.create_index('ix_anomalies_event', 'anomalies', ['event_id'], unique=False)
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('events', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.drop_column('events')
    if op.get_bind().dialect.name == 'sqlite':  # DROP COLUMN refuses a REFERENCES column
        op.drop_index('ix_anomalies_event', table_name='anomalies')
        op.execute('DROP VIEW IF EXISTS anomaly_daily_counts')
        with op.batch_alter_table('anomalies', schema=None) as batch_op:
            batch_op.drop_column('event_id')
        op.execute(DAILY_COUNTS)
    else:
        op.drop_constraint(op.f('fk_anomalies_event_id_events'), 'anomalies',
                           type_='foreignkey')
        op.drop_index('ix_anomalies_event', table_name='anomalies')
        op.drop_column('anomalies', 'event_id')
    op.drop_table('event_cursors')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_monitor_notice')
        batch_op.drop_index('ix_events_monitor_started')
        batch_op.drop_index('ix_events_monitor_status')
    op.drop_table('events')
