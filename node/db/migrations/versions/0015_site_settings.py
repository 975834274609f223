"""site settings changed on the web (name, summary, rules, registration mode, picture)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime  # noqa: F401  (JSONType: same imports in every revision)

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'site_settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', JSONType, nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('site_settings')
