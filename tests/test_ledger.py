"""The ledger chain: any edit, deletion or reordering made directly in the database is named."""

import json
import multiprocessing as mp

from sqlalchemy import text

from audit_engine.ledger import GENESIS, append, head, verify
from audit_engine.store import make_engine


def _fill(engine, n=6):
    for i in range(n):
        append(engine, operator=f"op{i % 2}", command="load census", params={"i": i},
               inputs={f"f{i}.csv": "ab" * 32}, result={"rows_loaded": 100 + i})


def test_intact_chain_verifies_and_links(engine):
    assert verify(engine).ok and verify(engine).entries == 0
    _fill(engine)
    r = verify(engine)
    assert r.ok and r.entries == 6
    assert head(engine) == (6, r.head_hash)
    with engine.connect() as c:
        rows = c.execute(text("select seq, prev_hash, hash from ledger order by seq")).all()
    assert rows[0].prev_hash == GENESIS
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 6))


def test_edit_is_named(engine):
    _fill(engine)
    with engine.begin() as c:
        c.execute(text("update ledger set result = :r where seq = 4"), {"r": json.dumps({"rows_loaded": 999})})
    r = verify(engine)
    assert not r.ok and r.first_bad_seq == 4 and r.problem == "modified"


def test_operator_change_is_named(engine):
    _fill(engine)
    with engine.begin() as c:
        c.execute(text("update ledger set operator = 'someone_else' where seq = 2"))
    r = verify(engine)
    assert (r.ok, r.first_bad_seq, r.problem) == (False, 2, "modified")


def test_deletion_is_named(engine):
    _fill(engine)
    with engine.begin() as c:
        c.execute(text("delete from ledger where seq = 3"))
    r = verify(engine)
    assert not r.ok and r.first_bad_seq == 4 and r.problem == "deleted"
    assert "3..3" in r.details["message"]


def test_deletion_and_renumbering_is_named(engine):
    _fill(engine)
    with engine.begin() as c:
        c.execute(text("delete from ledger where seq = 3"))
        for s in (4, 5, 6):
            c.execute(text("update ledger set seq = :n where seq = :s"), {"n": s - 1, "s": s})
    r = verify(engine)
    assert not r.ok and r.first_bad_seq == 3


def test_reordering_is_named(engine):
    _fill(engine)
    with engine.begin() as c:  # swap entries 2 and 5 by renumbering
        c.execute(text("update ledger set seq = 1000 where seq = 2"))
        c.execute(text("update ledger set seq = 2 where seq = 5"))
        c.execute(text("update ledger set seq = 5 where seq = 1000"))
    r = verify(engine)
    assert not r.ok and r.first_bad_seq == 2 and r.problem == "reordered"
    assert "written as entry 5" in r.details["message"]


def test_deleting_the_newest_entry_is_caught_by_the_anchored_head(engine):
    _fill(engine)
    anchored = head(engine)[1]
    with engine.begin() as c:
        c.execute(text("delete from ledger where seq = 6"))
    assert verify(engine).ok  # the chain alone cannot see a cut tail ...
    r = verify(engine, expected_head=anchored)
    assert not r.ok and r.problem == "head mismatch"  # ... an anchored head can


def _writer(url: str, k: int) -> None:
    eng = make_engine(url)
    for i in range(k):
        append(eng, operator="w", command="test", params={"i": i})
    eng.dispose()


def test_concurrent_writers_never_fork_the_chain(engine, db_url):
    procs = [mp.get_context("spawn").Process(target=_writer, args=(db_url, 15)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    r = verify(engine)
    assert r.ok and r.entries == 45
