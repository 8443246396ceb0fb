"""A multi-county synthetic census for the Spark benchmark: ``N`` persons as ⌈N / 1M⌉ counties.

The generator holds one county in memory (about 2.9 GB per million persons), so ten million
persons are ten counties of a million, each with its own county code (two provinces, so the
lake has more than one ``province=`` partition) and seed, generated one after another into
``<folder>/county-<code>/``. Person keys start with the county code, so they never clash.
A county already generated (its ``manifest.json`` exists) is kept: the data is made once.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: county codes (Jiangsu's Huai'an, Anhui's Hefei) and names
COUNTIES = (("320831", "金湖县"), ("320830", "盱眙县"), ("320826", "涟水县"), ("320813", "洪泽区"),
            ("320812", "清江浦区"), ("340102", "瑶海区"), ("340103", "庐阳区"), ("340104", "蜀山区"),
            ("340111", "包河区"), ("340121", "长丰县"), ("340122", "肥东县"), ("340123", "肥西县"))
PER_COUNTY = 1_000_000


def county_folders(persons: int, folder: Path, seed: int = 2020, say=print) -> list[Path]:
    """The counties' synth folders (generated when missing)."""
    from audit_engine.synth import SynthConfig, generate

    n = max(1, math.ceil(persons / PER_COUNTY))
    if n > len(COUNTIES):
        raise ValueError(f"at most {len(COUNTIES) * PER_COUNTY:,} persons")
    out = []
    for i, (code, name) in enumerate(COUNTIES[:n]):
        target = folder / f"county-{code}"
        if not (target / "manifest.json").exists():
            t0 = time.perf_counter()
            generate(SynthConfig(persons=persons // n, seed=seed + i, county_code=code, county_name=name), target)
            say(f"  generated county {code} ({persons // n:,} persons) in {time.perf_counter() - t0:.0f} s")
        out.append(target)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--persons", type=int, default=10_000_000)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    print(county_folders(a.persons, a.out))
