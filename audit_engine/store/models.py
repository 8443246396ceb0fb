"""SQLAlchemy models of the store.

Census and PES records live side by side, told apart by ``source``. Records are joined by
their external keys (household_key, ea_code) rather than by foreign keys to surrogate ids, so
files can load in any order and in chunks, and a step elsewhere (Spark) can write the same
tables. Personal data lives only in ``persons`` and ``deaths`` (and the quarantine's raw rows);
the ledger and runs hold ids, counts and hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Code = String(8)          # a census code ('1', '01', 'A', '111')
Key = String(40)          # an external record key


class EnumerationArea(Base):
    """普查小区: the unit of enumeration, listing and PES sampling."""

    __tablename__ = "enumeration_areas"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12), index=True)
    township_code: Mapped[str] = mapped_column(String(12), index=True)
    village_code: Mapped[str | None] = mapped_column(String(15))
    township_name: Mapped[str | None] = mapped_column(String(60))
    urban_rural: Mapped[str | None] = mapped_column(Code)
    households_listed: Mapped[int | None] = mapped_column(Integer)
    persons_listed: Mapped[int | None] = mapped_column(Integer)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class Enumerator(Base):
    """普查员: who took each record; accountable for its quality."""

    __tablename__ = "enumerators"
    id: Mapped[str] = mapped_column(Key, primary_key=True)
    supervisor_id: Mapped[str | None] = mapped_column(Key, index=True)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class EnumeratorArea(Base):
    """Assignment of enumerators to enumeration areas (many-to-many)."""

    __tablename__ = "enumerator_areas"
    enumerator_id: Mapped[str] = mapped_column(ForeignKey("enumerators.id", ondelete="CASCADE"), primary_key=True)
    ea_code: Mapped[str] = mapped_column(String(20), primary_key=True)


class Household(Base):
    """A household (family or collective) as enumerated by one source."""

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("source", "household_key"),
        Index("ix_households_source_ea", "source", "ea_code"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(10))
    household_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    household_type: Mapped[str | None] = mapped_column(Code)
    declared_size: Mapped[int | None] = mapped_column(Integer)
    births_count: Mapped[int | None] = mapped_column(SmallInteger)
    deaths_count: Mapped[int | None] = mapped_column(SmallInteger)
    floor_area: Mapped[int | None] = mapped_column(Integer)
    rooms: Mapped[int | None] = mapped_column(SmallInteger)
    address: Mapped[str | None] = mapped_column(String(200))
    enumerator_id: Mapped[str | None] = mapped_column(Key)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class Person(Base):
    """One person record with every census item, from the census or the PES."""

    __tablename__ = "persons"
    __table_args__ = (
        UniqueConstraint("source", "person_key"),
        # Only what today's queries need: every index costs ~2-4 us per loaded row on SQLite.
        # Linkage (id_number) and accountability (enumerator) add theirs with their migrations.
        Index("ix_persons_source_ea", "source", "ea_code"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(10))
    person_key: Mapped[str] = mapped_column(Key)
    household_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    line_no: Mapped[int | None] = mapped_column(SmallInteger)
    name: Mapped[str | None] = mapped_column(String(60))
    id_number: Mapped[str | None] = mapped_column(String(24))
    sex: Mapped[str | None] = mapped_column(Code)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    age: Mapped[int | None] = mapped_column(SmallInteger)
    ethnicity: Mapped[str | None] = mapped_column(Code)
    relationship: Mapped[str | None] = mapped_column(Code)
    education: Mapped[str | None] = mapped_column(Code)
    industry: Mapped[str | None] = mapped_column(Code)
    occupation: Mapped[str | None] = mapped_column(Code)
    registration_type: Mapped[str | None] = mapped_column(Code)
    registration_place: Mapped[str | None] = mapped_column(String(6))
    time_away: Mapped[str | None] = mapped_column(Code)
    reason_away: Mapped[str | None] = mapped_column(Code)
    marital_status: Mapped[str | None] = mapped_column(Code)
    children_born: Mapped[int | None] = mapped_column(SmallInteger)
    children_surviving: Mapped[int | None] = mapped_column(SmallInteger)
    births_last_year: Mapped[int | None] = mapped_column(SmallInteger)
    enumerator_id: Mapped[str | None] = mapped_column(Key)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class Death(Base):
    """A death in the household between 2019-11-01 and 2020-10-31, as reported."""

    __tablename__ = "deaths"
    __table_args__ = (UniqueConstraint("source", "household_key", "line_no"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(10))
    household_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20), index=True)
    line_no: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str | None] = mapped_column(String(60))
    sex: Mapped[str | None] = mapped_column(Code)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    death_year: Mapped[int | None] = mapped_column(SmallInteger)
    death_month: Mapped[int | None] = mapped_column(SmallInteger)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class LoadFile(Base):
    """One file loaded (or being loaded): its hash makes re-loading a no-op, its offset makes
    an interrupted load resumable."""

    __tablename__ = "load_files"
    __table_args__ = (UniqueConstraint("sha256", "source", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(12))      # census / pes / reference
    kind: Mapped[str] = mapped_column(String(16))        # persons / households / deaths / areas / enumerators
    file_name: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))  # csv / xlsx / parquet
    encoding: Mapped[str | None] = mapped_column(String(16))
    chunk_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))      # loading / done
    next_position: Mapped[int] = mapped_column(BigInteger, default=0)  # byte offset (csv) or row index
    next_line: Mapped[int] = mapped_column(BigInteger, default=0)      # file line number at next_position
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_loaded: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    operator: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class QuarantinedRow(Base):
    """A rejected input row, kept whole with the reason: nothing is lost."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    load_file_id: Mapped[int] = mapped_column(ForeignKey("load_files.id"), index=True)
    line: Mapped[int] = mapped_column(BigInteger)        # 1-based line (csv) or row (xlsx/parquet) in the file
    field: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)            # masked: never a full name or ID number
    raw: Mapped[str] = mapped_column(Text)               # the row as read (bytes kept with backslash escapes)


class Run(Base):
    """One execution of a verb (load, check, sample, link, estimate, report)."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(10))      # running / done / failed
    operator: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    params: Mapped[str] = mapped_column(Text, default="{}")     # canonical JSON
    summary: Mapped[str] = mapped_column(Text, default="{}")    # canonical JSON


class Flag(Base):
    """A rule failure on a record or household, for QC review."""

    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_run_rule", "run_id", "rule_id"), Index("ix_flags_record", "source", "record_key"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    rule_id: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(10))       # person / household / dataset
    source: Mapped[str] = mapped_column(String(10))
    record_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str | None] = mapped_column(String(20), index=True)
    fields: Mapped[str] = mapped_column(Text, default="[]")     # JSON list of field names
    values: Mapped[str] = mapped_column(Text, default="{}")     # JSON of values at check time
    suggestion: Mapped[str | None] = mapped_column(Text)        # JSON: fields error localisation names first
    status: Mapped[str] = mapped_column(String(12), default="open")


class LedgerEntry(Base):
    """An append-only, hash-chained record of every command that changes or reports anything.

    ``hash = sha256(prev_hash + canonical JSON of the entry)``; ``prev_hash`` is unique, so two
    writers cannot both extend the same head.
    """

    __tablename__ = "ledger"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(32))          # ISO 8601 UTC, as hashed
    operator: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(80))
    params: Mapped[str] = mapped_column(Text)            # canonical JSON
    inputs: Mapped[str] = mapped_column(Text)            # canonical JSON {name: sha256}
    code_version: Mapped[str] = mapped_column(String(80))
    result: Mapped[str] = mapped_column(Text)            # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Sample(Base):
    """A sealed PES sample: the design and frame hashes, the seed and the selection's hash.
    ``sample verify`` redraws from these and must get the same selection."""

    __tablename__ = "samples"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    design: Mapped[str] = mapped_column(Text)            # canonical JSON of the parsed design
    design_hash: Mapped[str] = mapped_column(String(64))
    frame_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    selection_hash: Mapped[str] = mapped_column(String(64))
    units: Mapped[int] = mapped_column(Integer)
    replicate_scale: Mapped[str] = mapped_column(Text)   # JSON list, one per replicate
    operator: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class SampleUnit(Base):
    """A selected enumeration area with its inclusion probability, weight and replicate weights."""

    __tablename__ = "sample_units"
    __table_args__ = (UniqueConstraint("sample_id", "unit_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    unit_code: Mapped[str] = mapped_column(String(20))
    stratum: Mapped[str] = mapped_column(String(80))
    psu: Mapped[str] = mapped_column(String(20))
    stage1_pi: Mapped[float] = mapped_column(Float)
    pi: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    certainty: Mapped[bool] = mapped_column(Boolean)
    stratum_psus: Mapped[int] = mapped_column(Integer)   # N_h, for the finite population correction
    stratum_sample: Mapped[int] = mapped_column(Integer)  # n_h
    replicate_weights: Mapped[str] = mapped_column(Text)  # JSON list, one per replicate


class LinkPair(Base):
    """A record pair a link run kept: a match, or a possible match for clerical review.

    ``kind``: ``pes`` (left a PES person, right a census person) or ``duplicate`` (both census
    persons, left < right). ``levels``: the comparison levels as JSON ``{comparison: level}``, so
    a reviewer sees why the pair scored what it did and reviewed pairs can retrain m and u.
    Non-matches are not kept: a run's candidate pairs can number tens of millions.
    """

    __tablename__ = "link_pairs"
    __table_args__ = (Index("ix_link_pairs_run_left", "run_id", "left_key"),
                      Index("ix_link_pairs_run_right", "run_id", "right_key"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    kind: Mapped[str] = mapped_column(String(10))
    left_key: Mapped[str] = mapped_column(Key)
    right_key: Mapped[str] = mapped_column(Key)
    left_ea: Mapped[str] = mapped_column(String(20))
    right_ea: Mapped[str] = mapped_column(String(20))
    weight: Mapped[float] = mapped_column(Float)
    posterior: Mapped[float] = mapped_column(Float)
    levels: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))      # match / possible
    cluster: Mapped[int | None] = mapped_column(Integer)  # duplicate runs: the pair's cluster


class ClusterMember(Base):
    """A census record in a duplicate cluster: the kept record (the correct enumeration) or an
    extra one (an erroneous duplicate), with why."""

    __tablename__ = "cluster_members"
    __table_args__ = (UniqueConstraint("run_id", "person_key"), Index("ix_cluster_members_run_cluster", "run_id", "cluster"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    cluster: Mapped[int] = mapped_column(Integer)
    person_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(8))         # kept / extra
    evidence: Mapped[str] = mapped_column(Text)          # JSON: ids, codes and numbers only


class SampleStatus(Base):
    """The outcome of a PES link run for one person of the sample EAs.

    ``sample`` ``P``: a PES person — class ``matched`` / ``possible`` / ``not_matched`` /
    ``invalid`` (not a resident at the standard time). ``sample`` ``E``: a census record —
    class ``correct`` / ``duplicate`` / ``born_after`` / ``died_before`` / ``unresolved`` (to
    field follow-up). ``other_key``: the person on the other side (the matched census record,
    the PES person, or the kept record of a duplicate cluster)."""

    __tablename__ = "sample_status"
    __table_args__ = (UniqueConstraint("run_id", "sample", "person_key"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    sample: Mapped[str] = mapped_column(String(1))
    person_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    cls: Mapped[str] = mapped_column(String(12))
    other_key: Mapped[str | None] = mapped_column(Key)
    evidence: Mapped[str] = mapped_column(Text)          # JSON: ids, codes and numbers only


class ReviewItem(Base):
    """Work for a QC officer: a possible match, a duplicate cluster, a census record needing
    field follow-up. ``subject`` names it within its run (a PES person key, a cluster number,
    a census person key); ``ea_code`` scopes it to the officer responsible.

    A decision is written once: the update that decides requires ``status == 'open'``, so of
    two officers deciding at the same time one wins and the other is told. ``decision`` values
    per kind: pair ``match`` / ``non_match``; cluster ``duplicate`` / ``not_duplicate``;
    follow-up ``correct`` / ``not_resident`` / ``fictitious`` / ``died_before`` / ``duplicate``."""

    __tablename__ = "review_items"
    __table_args__ = (UniqueConstraint("run_id", "kind", "subject"), Index("ix_review_items_status_ea", "status", "ea_code"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    kind: Mapped[str] = mapped_column(String(12))        # pair / cluster / followup
    subject: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)           # JSON: ids, levels, weights; no personal data
    status: Mapped[str] = mapped_column(String(10), default="open")   # open / decided
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CoverageEstimate(Base):
    """One figure of an estimate run: a statistic for a domain, with its standard error and
    95 % interval — what reports show, to the digit."""

    __tablename__ = "coverage_estimates"
    __table_args__ = (UniqueConstraint("run_id", "level", "domain", "statistic"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    level: Mapped[str] = mapped_column(String(16))       # overall / stratum / post_stratum
    domain: Mapped[str] = mapped_column(String(80))
    statistic: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    se: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)   # None: undefined (e.g. no variance)
    ci_high: Mapped[float | None] = mapped_column(Float)
    ci_method: Mapped[str] = mapped_column(String(8))
    df: Mapped[int | None] = mapped_column(Integer)


class Operator(Base):
    """Someone who may act: a role and, for QC officers, the areas they answer for.

    ``scope``: JSON list of area-code prefixes (a county's 6 digits, a township's 9, a village's
    12, an EA's 15); empty means the whole store (supervision, admin, leadership — leadership
    never sees a record whatever its scope)."""

    __tablename__ = "operators"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))        # supervision / qc / leadership / admin
    scope: Mapped[str] = mapped_column(Text, default="[]")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_hash: Mapped[str | None] = mapped_column(String(200))   # argon2id (census-audit operator passwd)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # since the last success
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))      # web sign-in lockout
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")   # +1 ends every web session


class Decision(Base):
    """A QC decision on a flag or a review item, append-only.

    ``stage`` ``first`` is the decision; ``second`` the four-eyes check by another officer.
    The unique (item_kind, item_id, stage) makes deciding race-free on every database: of two
    officers inserting the first decision at the same moment exactly one succeeds."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("item_kind", "item_id", "stage"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    item_kind: Mapped[str] = mapped_column(String(8))     # flag / review
    item_id: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[str] = mapped_column(String(6))         # first / second
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ea_code: Mapped[str | None] = mapped_column(String(20), index=True)
    needs_second: Mapped[bool] = mapped_column(Boolean, default=False)


class PersonVersion(Base):
    """A correction: a new version of a person record; the loaded record (version 1, in
    ``persons``) and every earlier version stay as they were. ``changes``: JSON
    ``{field: [before, after]}``."""

    __tablename__ = "person_versions"
    __table_args__ = (UniqueConstraint("source", "person_key", "version"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(10))
    person_key: Mapped[str] = mapped_column(Key)
    version: Mapped[int] = mapped_column(Integer)
    changes: Mapped[str] = mapped_column(Text)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegisterPerson(Base):
    """A person of the household-registration extract (户籍, from public security): who is
    registered where, and whether the registration is still live, moved out or cancelled by death.
    Compared with the census by ``link register``; never loaded as census data."""

    __tablename__ = "register_persons"
    __table_args__ = (UniqueConstraint("register_key"), Index("ix_register_persons_address", "address_code"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    register_key: Mapped[str] = mapped_column(Key)
    id_number: Mapped[str | None] = mapped_column(String(24))
    name: Mapped[str | None] = mapped_column(String(60))
    sex: Mapped[str | None] = mapped_column(Code)
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    birth_month: Mapped[int | None] = mapped_column(SmallInteger)
    address_code: Mapped[str] = mapped_column(String(12))   # village (12), township (9) or county (6) code
    register_household: Mapped[str | None] = mapped_column(Key)
    status: Mapped[str] = mapped_column(Code)               # register_status: 1 registered, 2 moved out, 3 deceased
    status_year: Mapped[int | None] = mapped_column(SmallInteger)
    status_month: Mapped[int | None] = mapped_column(SmallInteger)
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class ListedHousehold(Base):
    """A household of the pre-enumeration listing (摸底): what the enumerator expected to find
    in the EA before the count; reconciled with what was enumerated."""

    __tablename__ = "listing"
    __table_args__ = (UniqueConstraint("listing_key"), Index("ix_listing_ea", "ea_code"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    listing_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    persons_listed: Mapped[int] = mapped_column(Integer)
    enumerator_id: Mapped[str | None] = mapped_column(Key)
    address: Mapped[str | None] = mapped_column(String(200))
    load_file_id: Mapped[int | None] = mapped_column(ForeignKey("load_files.id"))


class RegisterStatus(Base):
    """The outcome of a ``link register`` run for one record, census or register.

    ``record`` ``C`` (a census person, ``record_key`` its person key) or ``R`` (a register
    person, its register key). ``cls``: ``registered_here`` (enumerated, and registered in the
    township where enumerated), ``not_enumerated`` (registered here, live, not found in the census: candidate
    omission or moved away), ``registered_elsewhere`` (enumerated here, registered in another
    place — another township of this county or another county: 人户分离; ``place`` the
    registration address or county code), ``no_registration`` (enumerated,
    no registration found: candidate 未落户口), ``deceased_enumerated`` (the registration was
    cancelled by a death before the standard time, yet the person was enumerated: candidate
    error), ``moved_out`` / ``deceased`` (register records with no census counterpart and a
    status that explains it). ``ea_code``: the census EA, or for a register person not
    enumerated the registration address code (a village code: township scopes still apply by
    prefix). ``other_key``: the record on the other side."""

    __tablename__ = "register_status"
    __table_args__ = (UniqueConstraint("run_id", "record", "record_key"), Index("ix_register_status_run_cls", "run_id", "cls"))
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"))
    record: Mapped[str] = mapped_column(String(1))
    record_key: Mapped[str] = mapped_column(Key)
    ea_code: Mapped[str] = mapped_column(String(20))
    cls: Mapped[str] = mapped_column(String(24))
    other_key: Mapped[str | None] = mapped_column(Key)
    place: Mapped[str | None] = mapped_column(String(12))
    evidence: Mapped[str] = mapped_column(Text)          # JSON: ids, codes and numbers only
