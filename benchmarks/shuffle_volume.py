"""Shuffle bytes written by a Spark application, from its event log: the measured basis of the
shuffle volumes in docs/scale.md.

    CENSUS_AUDIT_SPARK_CONF="spark.eventLog.enabled=true;spark.eventLog.dir=/tmp/ev" \\
        python benchmarks/bench_spark.py --backend spark --skip dedupe ...
    python benchmarks/shuffle_volume.py /tmp/ev/<application file>

Prints, per stage, the shuffle bytes and records written (and read), and the totals.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def main(path: str) -> None:
    written, records, read, names = defaultdict(int), defaultdict(int), defaultdict(int), {}
    with open(path) as fh:
        for line in fh:
            ev = json.loads(line)
            kind = ev.get("Event")
            if kind == "SparkListenerStageSubmitted":
                info = ev["Stage Info"]
                names[info["Stage ID"]] = info.get("Stage Name", "")
            elif kind == "SparkListenerTaskEnd":
                m = ev.get("Task Metrics") or {}
                w = m.get("Shuffle Write Metrics") or {}
                r = m.get("Shuffle Read Metrics") or {}
                sid = ev["Stage ID"]
                written[sid] += int(w.get("Shuffle Bytes Written", 0))
                records[sid] += int(w.get("Shuffle Records Written", 0))
                read[sid] += int(r.get("Remote Bytes Read", 0)) + int(r.get("Local Bytes Read", 0))
    for sid in sorted(written):
        if written[sid]:
            print(f"stage {sid:>4} {written[sid] / 1e6:>10,.1f} MB {records[sid]:>14,} records  {names.get(sid, '')[:60]}")
    print(f"total shuffle written {sum(written.values()) / 1e9:,.2f} GB, {sum(records.values()):,} records; "
          f"read {sum(read.values()) / 1e9:,.2f} GB")


if __name__ == "__main__":
    main(sys.argv[1])
