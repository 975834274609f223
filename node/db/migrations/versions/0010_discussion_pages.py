"""discussion pages: when each post last changed, and the indexes a page of a thread is read with

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

``changed_at`` is set on insert and on every update of a row; the newest one in a
thread is that thread's version, which keys the cache of rendered discussion pages.
``(root_id, changed_at)`` finds it without reading the thread; ``(parent_id, id)``
reads one comment's replies in the order we received them, a page at a time.
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_at', UTCDateTime(), nullable=True))
    op.execute("UPDATE objects SET changed_at = COALESCE(updated, created_at)")
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index('ix_objects_root_changed', ['root_id', 'changed_at'], unique=False)
        batch_op.create_index('ix_objects_parent_order', ['parent_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index('ix_objects_parent_order')
        batch_op.drop_index('ix_objects_root_changed')
        batch_op.drop_column('changed_at')
