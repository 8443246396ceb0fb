"""operators decisions versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('item_kind', sa.String(length=8), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('stage', sa.String(length=6), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=True),
    sa.Column('needs_second', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('item_kind', 'item_id', 'stage', name=op.f('uq_decisions_item_kind'))
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decisions_ea_code'), ['ea_code'], unique=False)

    op.create_table('operators',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=12), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_operators'))
    )
    op.create_table('person_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('person_key', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changes', sa.Text(), nullable=False),
    sa.Column('decision_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_person_versions_decision_id_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_versions')),
    sa.UniqueConstraint('source', 'person_key', 'version', name=op.f('uq_person_versions_source'))
    )


def downgrade() -> None:
    op.drop_table('person_versions')
    op.drop_table('operators')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_decisions_ea_code'))

    op.drop_table('decisions')
