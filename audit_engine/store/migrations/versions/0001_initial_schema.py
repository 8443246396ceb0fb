"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('command', sa.String(length=80), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('inputs', sa.Text(), nullable=False),
    sa.Column('code_version', sa.String(length=80), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger')),
    sa.UniqueConstraint('hash', name=op.f('uq_ledger_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_ledger_prev_hash'))
    )
    op.create_table('load_files',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=True),
    sa.Column('chunk_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('next_position', sa.BigInteger(), nullable=False),
    sa.Column('next_line', sa.BigInteger(), nullable=False),
    sa.Column('rows_read', sa.BigInteger(), nullable=False),
    sa.Column('rows_loaded', sa.BigInteger(), nullable=False),
    sa.Column('rows_quarantined', sa.BigInteger(), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_load_files')),
    sa.UniqueConstraint('sha256', 'source', 'kind', name=op.f('uq_load_files_sha256'))
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_kind'), ['kind'], unique=False)

    op.create_table('deaths',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('household_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('line_no', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('birth_year', sa.SmallInteger(), nullable=True),
    sa.Column('birth_month', sa.SmallInteger(), nullable=True),
    sa.Column('death_year', sa.SmallInteger(), nullable=True),
    sa.Column('death_month', sa.SmallInteger(), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_deaths_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deaths')),
    sa.UniqueConstraint('source', 'household_key', 'line_no', name=op.f('uq_deaths_source'))
    )
    with op.batch_alter_table('deaths', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deaths_ea_code'), ['ea_code'], unique=False)

    op.create_table('enumeration_areas',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('county_code', sa.String(length=12), nullable=False),
    sa.Column('township_code', sa.String(length=12), nullable=False),
    sa.Column('village_code', sa.String(length=15), nullable=True),
    sa.Column('township_name', sa.String(length=60), nullable=True),
    sa.Column('urban_rural', sa.String(length=8), nullable=True),
    sa.Column('households_listed', sa.Integer(), nullable=True),
    sa.Column('persons_listed', sa.Integer(), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_enumeration_areas_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_enumeration_areas'))
    )
    with op.batch_alter_table('enumeration_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enumeration_areas_county_code'), ['county_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_enumeration_areas_township_code'), ['township_code'], unique=False)

    op.create_table('enumerators',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('supervisor_id', sa.String(length=40), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_enumerators_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enumerators'))
    )
    with op.batch_alter_table('enumerators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enumerators_supervisor_id'), ['supervisor_id'], unique=False)

    op.create_table('flags',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=60), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('record_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=True),
    sa.Column('fields', sa.Text(), nullable=False),
    sa.Column('values', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_flags_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flags_ea_code'), ['ea_code'], unique=False)
        batch_op.create_index('ix_flags_run_rule', ['run_id', 'rule_id'], unique=False)

    op.create_table('households',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('household_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('household_type', sa.String(length=8), nullable=True),
    sa.Column('declared_size', sa.Integer(), nullable=True),
    sa.Column('births_count', sa.SmallInteger(), nullable=True),
    sa.Column('deaths_count', sa.SmallInteger(), nullable=True),
    sa.Column('floor_area', sa.Integer(), nullable=True),
    sa.Column('rooms', sa.SmallInteger(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('enumerator_id', sa.String(length=40), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_households_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_households')),
    sa.UniqueConstraint('source', 'household_key', name=op.f('uq_households_source'))
    )
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index('ix_households_source_ea', ['source', 'ea_code'], unique=False)

    op.create_table('persons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('person_key', sa.String(length=40), nullable=False),
    sa.Column('household_key', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.Column('line_no', sa.SmallInteger(), nullable=True),
    sa.Column('name', sa.String(length=60), nullable=True),
    sa.Column('id_number', sa.String(length=24), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('birth_year', sa.SmallInteger(), nullable=True),
    sa.Column('birth_month', sa.SmallInteger(), nullable=True),
    sa.Column('age', sa.SmallInteger(), nullable=True),
    sa.Column('ethnicity', sa.String(length=8), nullable=True),
    sa.Column('relationship', sa.String(length=8), nullable=True),
    sa.Column('education', sa.String(length=8), nullable=True),
    sa.Column('industry', sa.String(length=8), nullable=True),
    sa.Column('occupation', sa.String(length=8), nullable=True),
    sa.Column('registration_type', sa.String(length=8), nullable=True),
    sa.Column('registration_place', sa.String(length=6), nullable=True),
    sa.Column('time_away', sa.String(length=8), nullable=True),
    sa.Column('reason_away', sa.String(length=8), nullable=True),
    sa.Column('marital_status', sa.String(length=8), nullable=True),
    sa.Column('children_born', sa.SmallInteger(), nullable=True),
    sa.Column('children_surviving', sa.SmallInteger(), nullable=True),
    sa.Column('births_last_year', sa.SmallInteger(), nullable=True),
    sa.Column('enumerator_id', sa.String(length=40), nullable=True),
    sa.Column('load_file_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_persons_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('source', 'person_key', name=op.f('uq_persons_source'))
    )
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index('ix_persons_source_ea', ['source', 'ea_code'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('load_file_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.BigInteger(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['load_file_id'], ['load_files.id'], name=op.f('fk_quarantine_load_file_id_load_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantine'))
    )
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantine_load_file_id'), ['load_file_id'], unique=False)

    op.create_table('enumerator_areas',
    sa.Column('enumerator_id', sa.String(length=40), nullable=False),
    sa.Column('ea_code', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['enumerator_id'], ['enumerators.id'], name=op.f('fk_enumerator_areas_enumerator_id_enumerators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enumerator_id', 'ea_code', name=op.f('pk_enumerator_areas'))
    )


def downgrade() -> None:
    op.drop_table('enumerator_areas')
    with op.batch_alter_table('quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantine_load_file_id'))

    op.drop_table('quarantine')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index('ix_persons_source_ea')

    op.drop_table('persons')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_source_ea')

    op.drop_table('households')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_run_rule')
        batch_op.drop_index(batch_op.f('ix_flags_ea_code'))

    op.drop_table('flags')
    with op.batch_alter_table('enumerators', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enumerators_supervisor_id'))

    op.drop_table('enumerators')
    with op.batch_alter_table('enumeration_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enumeration_areas_township_code'))
        batch_op.drop_index(batch_op.f('ix_enumeration_areas_county_code'))

    op.drop_table('enumeration_areas')
    with op.batch_alter_table('deaths', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deaths_ea_code'))

    op.drop_table('deaths')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_kind'))

    op.drop_table('runs')
    op.drop_table('load_files')
    op.drop_table('ledger')
