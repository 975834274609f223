"""follows, deliveries and hosts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('object_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('inbox', sa.String(length=2048), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
    sa.Column('lease_until', UTCDateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_ap_id', 'inbox', name='uq_deliveries_activity_inbox')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_activity_ap_id'), ['activity_ap_id'], unique=False)
        batch_op.create_index('ix_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_object_ap_id'), ['object_ap_id'], unique=False)

    op.create_table('hosts',
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('failure_days', JSONType, nullable=False),
    sa.Column('unavailable_since', UTCDateTime(), nullable=True),
    sa.Column('last_success_at', UTCDateTime(), nullable=True),
    sa.Column('last_failure_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('domain')
    )
    op.create_table('follows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('follower_id', sa.Integer(), nullable=False),
    sa.Column('followed_id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['followed_id'], ['actors.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['follower_id'], ['actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id'),
    sa.UniqueConstraint('follower_id', 'followed_id', name='uq_follows_pair')
    )
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_follows_followed_id'), ['followed_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_follows_follower_id'), ['follower_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_follows_follower_id'))
        batch_op.drop_index(batch_op.f('ix_follows_followed_id'))

    op.drop_table('follows')
    op.drop_table('hosts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_object_ap_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_host'))
        batch_op.drop_index('ix_deliveries_due')
        batch_op.drop_index(batch_op.f('ix_deliveries_activity_ap_id'))

    op.drop_table('deliveries')
