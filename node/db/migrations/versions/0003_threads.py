"""revisions, reactions, tombstones, pending replies

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('in_reply_to', sa.String(length=2048), nullable=False),
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('raw', JSONType, nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id')
    )
    with op.batch_alter_table('pending_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_replies_in_reply_to'), ['in_reply_to'], unique=False)

    op.create_table('tombstones',
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('deleted_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('ap_id')
    )
    op.create_table('reactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['object_id'], ['objects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id'),
    sa.UniqueConstraint('kind', 'actor_id', 'object_id', name='uq_reactions_once')
    )
    with op.batch_alter_table('reactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reactions_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reactions_object_id'), ['object_id'], unique=False)

    op.create_table('revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('updated', UTCDateTime(), nullable=True),
    sa.Column('raw', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['object_id'], ['objects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revisions_object_id'), ['object_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revisions_object_id'))

    op.drop_table('revisions')
    with op.batch_alter_table('reactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reactions_object_id'))
        batch_op.drop_index(batch_op.f('ix_reactions_actor_id'))

    op.drop_table('reactions')
    op.drop_table('tombstones')
    with op.batch_alter_table('pending_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_replies_in_reply_to'))

    op.drop_table('pending_replies')
