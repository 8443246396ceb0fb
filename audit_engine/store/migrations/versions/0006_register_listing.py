"""register persons, pre-enumeration listing, register comparison outcomes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('listing',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('listing_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('persons_listed', sa.Integer(), nullable=False),
    sa.Column('enumerator_id', sa.String(length=40), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_listing_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing')),
    sa.UniqueConstraint('listing_key', name=op.f('uq_listing_listing_key'))
    )
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index('ix_listing_ea', ['ea_code'], unique=False)

    op.create_table('register_persons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('register_key', sa.String(length=40), nullable=False),
    sa.Column('id_number', sa.String(length=24), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('birth_year', sa.SmallInteger(), nullable=True),
    sa.Column('birth_month', sa.SmallInteger(), nullable=True),
    sa.Column('address_code', sa.String(length=12), nullable=False),
    sa.Column('register_household', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('status_year', sa.SmallInteger(), nullable=True),
    sa.Column('status_month', sa.SmallInteger(), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_register_persons_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_persons')),
    sa.UniqueConstraint('register_key', name=op.f('uq_register_persons_register_key'))
    )
    with op.batch_alter_table('register_persons', schema=None) as batch_op:
        batch_op.create_index('ix_register_persons_address', ['address_code'], unique=False)

    op.create_table('register_status',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('record', sa.String(length=1), nullable=False),
    sa.Column('record_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('cls', sa.String(length=24), nullable=False),
    sa.Column('other_key', sa.String(length=40), nullable=True),
    sa.Column('place', sa.String(length=12), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_register_status_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_register_status')),
    sa.UniqueConstraint('run_id', 'record', 'record_key', name=op.f('uq_register_status_run_id'))
    )
    with op.batch_alter_table('register_status', schema=None) as batch_op:
        batch_op.create_index('ix_register_status_run_cls', ['run_id', 'cls'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('register_status', schema=None) as batch_op:
        batch_op.drop_index('ix_register_status_run_cls')

    op.drop_table('register_status')
    with op.batch_alter_table('register_persons', schema=None) as batch_op:
        batch_op.drop_index('ix_register_persons_address')

    op.drop_table('register_persons')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_ea')

    op.drop_table('listing')
