"""reservations by order

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a push naming an order looks its reservations up by order (hub.services.reservations.orders_held)
    op.create_index('ix_reservations_order_ref', 'reservations', ['order_ref'])


def downgrade() -> None:
    op.drop_index('ix_reservations_order_ref', table_name='reservations')
