"""sealed samples

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('samples',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('design', sa.Text(), nullable=False),
    sa.Column('design_hash', sa.String(length=64), nullable=False),
    sa.Column('frame_hash', sa.String(length=64), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('selection_hash', sa.String(length=64), nullable=False),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('replicate_scale', sa.Text(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_samples_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples'))
    )
    op.create_table('sample_units',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=20), nullable=False),
    sa.Column('stratum', sa.String(length=80), nullable=False),
    sa.Column('psu', sa.String(length=20), nullable=False),
    sa.Column('stage1_pi', sa.Float(), nullable=False),
    sa.Column('pi', sa.Float(), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('certainty', sa.Boolean(), nullable=False),
    sa.Column('stratum_psus', sa.Integer(), nullable=False),
    sa.Column('stratum_sample', sa.Integer(), nullable=False),
    sa.Column('replicate_weights', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_sample_units_sample_id_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sample_units')),
    sa.UniqueConstraint('sample_id', 'unit_code', name=op.f('uq_sample_units_sample_id'))
    )
    with op.batch_alter_table('sample_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sample_units_sample_id'), ['sample_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sample_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sample_units_sample_id'))

    op.drop_table('sample_units')
    op.drop_table('samples')
