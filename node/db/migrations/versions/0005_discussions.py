"""discussions of any page: documents, their URL aliases and their threads (node.discussions)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('discussion_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('canonical_url', sa.String(length=2048), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('site_name', sa.String(length=255), nullable=True),
    sa.Column('author', sa.String(length=255), nullable=True),
    sa.Column('creator', sa.String(length=255), nullable=True),
    sa.Column('published', UTCDateTime(), nullable=True),
    sa.Column('activitypub_id', sa.String(length=2048), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_reason', sa.Text(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('fetched_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['objects.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['actors.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('canonical_url')
    )
    with op.batch_alter_table('discussion_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discussion_documents_thread_id'), ['thread_id'], unique=False)
    op.create_table('discussion_aliases',
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['discussion_documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('url')
    )
    with op.batch_alter_table('discussion_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discussion_aliases_document_id'), ['document_id'], unique=False)
    op.create_table('discussion_threads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['discussion_documents.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['object_id'], ['objects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('object_id')
    )
    with op.batch_alter_table('discussion_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discussion_threads_document_id'), ['document_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('discussion_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discussion_threads_document_id'))
    op.drop_table('discussion_threads')
    with op.batch_alter_table('discussion_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discussion_aliases_document_id'))
    op.drop_table('discussion_aliases')
    with op.batch_alter_table('discussion_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discussion_documents_thread_id'))
    op.drop_table('discussion_documents')
