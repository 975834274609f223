"""initial schema: actors, objects, activities

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa

from node.db.types import JSONType, UTCDateTime

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('ap_type', sa.String(length=32), nullable=False),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('actor_ap_id', sa.String(length=2048), nullable=False),
    sa.Column('object_ap_id', sa.String(length=2048), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('raw', JSONType, nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('processed_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id')
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_actor_ap_id'), ['actor_ap_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_object_ap_id'), ['object_ap_id'], unique=False)

    op.create_table('actors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('ap_type', sa.String(length=32), nullable=False),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('inbox', sa.String(length=2048), nullable=True),
    sa.Column('shared_inbox', sa.String(length=2048), nullable=True),
    sa.Column('outbox', sa.String(length=2048), nullable=True),
    sa.Column('followers', sa.String(length=2048), nullable=True),
    sa.Column('following', sa.String(length=2048), nullable=True),
    sa.Column('public_key_id', sa.String(length=2048), nullable=True),
    sa.Column('public_key_pem', sa.Text(), nullable=True),
    sa.Column('raw', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('fetched_at', UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id')
    )
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_actors_public_key_id'), ['public_key_id'], unique=False)
        batch_op.create_index('ix_actors_username_domain', ['username', 'domain'], unique=False)

    op.create_table('objects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ap_id', sa.String(length=2048), nullable=False),
    sa.Column('ap_type', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=200), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=35), nullable=True),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('in_reply_to', sa.String(length=2048), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('root_id', sa.Integer(), nullable=True),
    sa.Column('context', sa.String(length=2048), nullable=True),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('tags', JSONType, nullable=True),
    sa.Column('published', UTCDateTime(), nullable=False),
    sa.Column('updated', UTCDateTime(), nullable=True),
    sa.Column('deleted_at', UTCDateTime(), nullable=True),
    sa.Column('replies_count', sa.Integer(), nullable=False),
    sa.Column('likes_count', sa.Integer(), nullable=False),
    sa.Column('announces_count', sa.Integer(), nullable=False),
    sa.Column('raw', JSONType, nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['objects.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['root_id'], ['objects.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ap_id'),
    sa.UniqueConstraint('slug')
    )
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objects_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_context'), ['context'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_in_reply_to'), ['in_reply_to'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_published'), ['published'], unique=False)
        batch_op.create_index(batch_op.f('ix_objects_root_id'), ['root_id'], unique=False)
        batch_op.create_index('ix_objects_root_published', ['root_id', 'published'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('objects', schema=None) as batch_op:
        batch_op.drop_index('ix_objects_root_published')
        batch_op.drop_index(batch_op.f('ix_objects_root_id'))
        batch_op.drop_index(batch_op.f('ix_objects_published'))
        batch_op.drop_index(batch_op.f('ix_objects_parent_id'))
        batch_op.drop_index(batch_op.f('ix_objects_in_reply_to'))
        batch_op.drop_index(batch_op.f('ix_objects_context'))
        batch_op.drop_index(batch_op.f('ix_objects_actor_id'))

    op.drop_table('objects')
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_index('ix_actors_username_domain')
        batch_op.drop_index(batch_op.f('ix_actors_public_key_id'))

    op.drop_table('actors')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_object_ap_id'))
        batch_op.drop_index(batch_op.f('ix_activities_created_at'))
        batch_op.drop_index(batch_op.f('ix_activities_actor_ap_id'))

    op.drop_table('activities')
