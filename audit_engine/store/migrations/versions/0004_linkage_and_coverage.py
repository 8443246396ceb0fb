"""linkage and coverage

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_members',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('cluster', sa.Integer(), nullable=False),
    sa.Column('person_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_cluster_members_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_members')),
    sa.UniqueConstraint('run_id', 'person_key', name=op.f('uq_cluster_members_run_id'))
    )
    with op.batch_alter_table('cluster_members', schema=None) as batch_op:
        batch_op.create_index('ix_cluster_members_run_cluster', ['run_id', 'cluster'], unique=False)

    op.create_table('coverage_estimates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=80), nullable=False),
    sa.Column('statistic', sa.String(length=20), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('se', sa.Float(), nullable=False),
    sa.Column('ci_low', sa.Float(), nullable=True),
    sa.Column('ci_high', sa.Float(), nullable=True),
    sa.Column('ci_method', sa.String(length=8), nullable=False),
    sa.Column('df', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_coverage_estimates_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_estimates')),
    sa.UniqueConstraint('run_id', 'level', 'domain', 'statistic', name=op.f('uq_coverage_estimates_run_id'))
    )
    with op.batch_alter_table('coverage_estimates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coverage_estimates_run_id'), ['run_id'], unique=False)

    op.create_table('link_pairs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('left_key', sa.String(length=40), nullable=False),
    sa.Column('right_key', sa.String(length=40), nullable=False),
    sa.Column('left_ea', sa.String(length=20), nullable=False),
    sa.Column('right_ea', sa.String(length=20), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('posterior', sa.Float(), nullable=False),
    sa.Column('levels', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('cluster', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_link_pairs_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_pairs'))
    )
    with op.batch_alter_table('link_pairs', schema=None) as batch_op:
        batch_op.create_index('ix_link_pairs_run_left', ['run_id', 'left_key'], unique=False)
        batch_op.create_index('ix_link_pairs_run_right', ['run_id', 'right_key'], unique=False)

    op.create_table('review_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_review_items_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_items')),
    sa.UniqueConstraint('run_id', 'kind', 'subject', name=op.f('uq_review_items_run_id'))
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.create_index('ix_review_items_status_ea', ['status', 'ea_code'], unique=False)

    op.create_table('sample_status',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('sample', sa.String(length=1), nullable=False),
    sa.Column('person_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('cls', sa.String(length=12), nullable=False),
    sa.Column('other_key', sa.String(length=40), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_sample_status_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_status')),
    sa.UniqueConstraint('run_id', 'sample', 'person_key', name=op.f('uq_sample_status_run_id'))
    )


def downgrade() -> None:
    op.drop_table('sample_status')
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_review_items_status_ea')

    op.drop_table('review_items')
    with op.batch_alter_table('link_pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_link_pairs_run_right')
        batch_op.drop_index('ix_link_pairs_run_left')

    op.drop_table('link_pairs')
    with op.batch_alter_table('coverage_estimates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coverage_estimates_run_id'))

    op.drop_table('coverage_estimates')
    with op.batch_alter_table('cluster_members', schema=None) as batch_op:
        batch_op.drop_index('ix_cluster_members_run_cluster')

    op.drop_table('cluster_members')
