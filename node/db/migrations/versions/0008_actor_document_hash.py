"""local actors remember the hash of the document last sent to followers (Update on change)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('actors', sa.Column('sent_document_hash', sa.String(length=64), nullable=True))
    # What the followers of an existing actor hold is unknown: a hash no document has makes the
    # first start after the upgrade send one Update.  Actors created later start with NULL
    # ("nothing sent yet"), and their first start records the hash without sending.
    op.execute("UPDATE actors SET sent_document_hash = 'unknown' WHERE is_local")


def downgrade() -> None:
    with op.batch_alter_table('actors') as batch:
        batch.drop_column('sent_document_hash')
