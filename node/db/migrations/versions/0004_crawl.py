"""crawl states: when to read a thread's remote replies and context collections again

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crawl_states',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('root_id', sa.Integer(), nullable=False),
    sa.Column('next_crawl_at', UTCDateTime(), nullable=True),
    sa.Column('interval_seconds', sa.Integer(), nullable=False),
    sa.Column('last_crawled_at', UTCDateTime(), nullable=True),
    sa.Column('last_found', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_activity_at', UTCDateTime(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['root_id'], ['objects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('root_id')
    )
    with op.batch_alter_table('crawl_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_states_next_crawl_at'), ['next_crawl_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('crawl_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_states_next_crawl_at'))

    op.drop_table('crawl_states')
