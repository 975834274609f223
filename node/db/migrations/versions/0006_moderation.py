"""moderation: comment states, locks and reply policies, domain blocks, bans, reports, the mod log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actor_bans',
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('moderator', sa.String(length=255), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('actor_ap_id')
    )
    with op.batch_alter_table('actor_bans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actor_bans_expires_at'), ['expires_at'], unique=False)

    op.create_table('domain_blocks',
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('reject_media', sa.Boolean(), nullable=False),
    sa.Column('reject_reports', sa.Boolean(), nullable=False),
    sa.Column('public_comment', sa.Text(), nullable=True),
    sa.Column('obfuscate', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('domain')
    )
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=True),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('reporter_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('target_actor_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('object_ap_ids', JSONType, nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('resolution', sa.Text(), nullable=True),
    sa.Column('raw', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('resolved_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_reports_target_actor_ap_id'), ['target_actor_ap_id'], unique=False)

    op.create_table('rule_hits',
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('dry_hits', sa.Integer(), nullable=False),
    sa.Column('last_hit_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('rule')
    )
    op.create_table('moderation_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('moderator', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=2048), nullable=False),
    sa.Column('rule', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['root_id'], ['objects.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('moderation_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_log_root_id'), ['root_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_log_target'), ['target'], unique=False)

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.create_index('ix_actors_domain', ['domain'], unique=False)

    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('moderation', sa.String(length=16), server_default='published', nullable=False))
        batch_op.add_column(sa.Column('locked', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reply_policy', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('replies_close_at', UTCDateTime(), nullable=True))
        batch_op.create_index('ix_objects_actor_moderation', ['actor_id', 'moderation'], unique=False)
        batch_op.create_index('ix_objects_moderation', ['moderation'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index('ix_objects_moderation')
        batch_op.drop_index('ix_objects_actor_moderation')
        batch_op.drop_column('replies_close_at')
        batch_op.drop_column('reply_policy')
        batch_op.drop_column('locked')
        batch_op.drop_column('moderation')

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_index('ix_actors_domain')

    with op.batch_alter_table('moderation_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_log_target'))
        batch_op.drop_index(batch_op.f('ix_moderation_log_root_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_log_at'))

    op.drop_table('moderation_log')
    op.drop_table('rule_hits')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_target_actor_ap_id'))
        batch_op.drop_index(batch_op.f('ix_reports_state'))

    op.drop_table('reports')
    op.drop_table('domain_blocks')
    with op.batch_alter_table('actor_bans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_actor_bans_expires_at'))

    op.drop_table('actor_bans')
