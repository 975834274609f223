"""moderation: an index for the rate rules (an actor's posts of the last hour)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index('ix_objects_actor_created', ['actor_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index('ix_objects_actor_created')
