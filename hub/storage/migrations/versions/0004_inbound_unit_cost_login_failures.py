"""inbound line unit cost, login failures

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wh_inbound_lines') as batch:
        batch.add_column(sa.Column('unit_cost', sa.String(length=40), nullable=True))
    op.create_table('login_failures',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', hub.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', hub.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lockouts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )


def downgrade() -> None:
    op.drop_table('login_failures')
    with op.batch_alter_table('wh_inbound_lines') as batch:
        batch.drop_column('unit_cost')
