"""activity leases: any number of processors can claim received activities

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_activities_waiting', ['status', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_waiting')
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('lease_until')
