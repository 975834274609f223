"""members on the web: notifications, followed threads, avatars

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('read_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['recipient_id'], ['actors.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['object_id'], ['objects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient', ['recipient_id', 'id'], unique=False)
        batch_op.create_index('ix_notifications_unread', ['recipient_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_object_id'), ['object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_actor_id'), ['actor_id'], unique=False)

    op.create_table('thread_follows',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['root_id'], ['objects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id', 'root_id')
    )
    with op.batch_alter_table('thread_follows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_thread_follows_root_id'), ['root_id'], unique=False)

    op.create_table('avatars',
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('actor_id')
    )


def downgrade() -> None:
    op.drop_table('avatars')
    with op.batch_alter_table('thread_follows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_thread_follows_root_id'))
    op.drop_table('thread_follows')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_actor_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_object_id'))
        batch_op.drop_index('ix_notifications_unread')
        batch_op.drop_index('ix_notifications_recipient')
    op.drop_table('notifications')
