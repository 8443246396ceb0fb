"""Every knob of the synthetic county in one frozen settings object.

One object drives the whole run (the Splink habit): the manifest stores it whole, so a set of
files can always be regenerated from its manifest. Rates are probabilities per unit (person,
household or record) for a normal enumerator in an average enumeration area; bad enumerators
multiply them by ``bad_enumerator_factor`` and each area by a mean-one log-normal effect.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class CaptureRates:
    """The error process of one enumeration (the census, or the PES re-enumeration).

    Coverage rates:
      household_omission   a whole household missed (per household)
      person_omission      a person missed inside an enumerated household (per person)
      infant_omission      replaces person_omission for persons aged 0-1
      mobile_omission      replaces it for persons 18-35 living away from their registration place
      duplicate            share of true persons also enumerated at their registration household
                           (only persons registered in another committee of this county can be)
      died_enumerated      persons who died in the year before the standard time enumerated as
                           living, as a share of the true population
      born_after_enumerated  babies born after the standard time enumerated, same base
      fictitious           invented persons, same base
    Item error rates (per record; the ID-number errors exclude each other, as do the two birth
    errors):
      id_digit, id_transpose, missing_id_number, birth_month, name_homophone, sex_error,
      missing_ethnicity, missing_education (per record with an education item, age 3+),
      age_heaping (per record aged 15+ whose age does not already end in 0 or 5).
    Enumerator and area effects:
      bad_enumerator_share  share of enumerators who work badly
      bad_enumerator_factor their rates are this many times the normal ones
      ea_rate_sigma         sd of the mean-one log-normal multiplier drawn per EA
    """

    household_omission: float = 0.003
    person_omission: float = 0.006
    infant_omission: float = 0.05
    mobile_omission: float = 0.03
    duplicate: float = 0.005
    died_enumerated: float = 0.0004
    born_after_enumerated: float = 0.0002
    fictitious: float = 0.0003
    id_digit: float = 0.004
    id_transpose: float = 0.003
    missing_id_number: float = 0.004
    birth_month: float = 0.005
    age_heaping: float = 0.005
    name_homophone: float = 0.008
    sex_error: float = 0.002
    missing_ethnicity: float = 0.003
    missing_education: float = 0.005
    bad_enumerator_share: float = 0.05
    bad_enumerator_factor: float = 4.0
    ea_rate_sigma: float = 0.3

    def validate(self, where: str) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "bad_enumerator_factor":
                if not value >= 1.0:
                    raise ValueError(f"{where}.{f.name} must be at least 1, got {value}")
            elif f.name == "ea_rate_sigma":
                if not 0.0 <= value <= 2.0:
                    raise ValueError(f"{where}.{f.name} must be within 0-2, got {value}")
            elif not 0.0 <= value <= 1.0:
                raise ValueError(f"{where}.{f.name} must be a probability, got {value}")
        if self.id_digit + self.id_transpose + self.missing_id_number > 0.5:
            raise ValueError(f"{where}: ID-number error rates add up to more than 0.5")
        if self.birth_month + self.age_heaping > 0.5:
            raise ValueError(f"{where}: birth error rates add up to more than 0.5")


#: The PES is a smaller, better-supervised operation: about half the census error rates, no
#: duplicates, hardly any erroneous enumerations and no bad enumerators by default.
PES_DEFAULTS = CaptureRates(
    household_omission=0.0015,
    person_omission=0.003,
    infant_omission=0.02,
    mobile_omission=0.012,
    duplicate=0.0,
    died_enumerated=0.0001,
    born_after_enumerated=0.0001,
    fictitious=0.0,
    id_digit=0.002,
    id_transpose=0.0015,
    missing_id_number=0.002,
    birth_month=0.0025,
    age_heaping=0.002,
    name_homophone=0.004,
    sex_error=0.001,
    missing_ethnicity=0.0015,
    missing_education=0.0025,
    bad_enumerator_share=0.0,
    bad_enumerator_factor=1.0,
    ea_rate_sigma=0.2,
)


@dataclass(frozen=True)
class RegisterRates:
    """The county's household-registration register (户籍) as it stands at the standard time.

    Residents registered in this county (registration types 1-3) are always in it, at their
    registration address; residents registered in another county or not registered at all are
    not, so their shares come from the population settings (``away_*``, ``registration_pending``).
    The rates below add what a real register holds beyond the resident population, and the
    register's own recording errors:
      moved_away          persons still registered here (status 1) but living outside the county,
                          per true resident. 金湖 is a sending county: its registered population
                          exceeds its resident one by well over a tenth.
      moved_out           registrations moved out (status 2) in the two years before the
                          standard time and still in the extract, per true resident
      death_uncancelled   share of registered decedents (died in the year before the standard
                          time, not enumerated) whose registration was not cancelled (未销户口,
                          still status 1); the others are cancelled (status 3). A decedent the
                          census enumerated as living is always cancelled, so that the census
                          error shows against the register.
    Recording errors (per register record; the two ID-number errors exclude each other):
      id_digit, missing_id_number, birth_month, name_homophone
    """

    moved_away: float = 0.12
    moved_out: float = 0.02
    death_uncancelled: float = 0.25
    id_digit: float = 0.002
    missing_id_number: float = 0.005
    birth_month: float = 0.003
    name_homophone: float = 0.004

    def validate(self, where: str) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{where}.{f.name} must be a probability, got {value}")
        if self.id_digit + self.missing_id_number > 0.5:
            raise ValueError(f"{where}: ID-number error rates add up to more than 0.5")


@dataclass(frozen=True)
class ListingErrors:
    """The pre-enumeration listing's (摸底) own errors (see ``audit_engine.synth.listing``).

      moved_out    per true family household: a household that moved out before the standard
                   time is still listed (default 0.002: about one EA in five of 100 households)
      missed       per true family household: it is not listed (default 0.002; collective
                   quarters are always listed)
      persons_off  per listed household: its persons count is one too high or one too low
                   (default 0.01)

    With the defaults the listed persons of an EA are within about ±8 of the truth (one or two
    households moved or missed), inside the reconciliation's default tolerance (5 %, at least
    8 persons; ``audit_engine.listing``).
    """

    moved_out: float = 0.002
    missed: float = 0.002
    persons_off: float = 0.01

    def validate(self, where: str) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 0.5:
                raise ValueError(f"{where}.{f.name} must be within 0-0.5, got {value}")


@dataclass(frozen=True)
class SynthConfig:
    """The synthetic county: its size, its people, and the two enumerations of them.

    ``persons`` is the target true population at the standard time; the realised count is
    within about 0.5 % of it because whole households are generated. Population shares
    (``away_*``, ``collective_share``) are of persons; ``death_rate`` is deaths in the year
    before the standard time per resident; ``birth_after_rate`` is births between the standard
    time and the end of enumeration (about two months) per resident.
    """

    persons: int = 100_000
    seed: int = 20201101
    county_code: str = "320831"
    county_name: str = "金湖县"
    ea_households_min: int = 80
    ea_households_max: int = 120
    collective_share: float = 0.025
    away_within_township: float = 0.04
    away_within_county: float = 0.07
    away_other_county: float = 0.12
    registration_pending: float = 0.003
    single_given_name_share: float = 0.17
    death_rate: float = 0.007
    birth_after_rate: float = 0.0012
    death_report_omission: float = 0.03
    enumerators_per_supervisor: int = 5
    census: CaptureRates = field(default_factory=CaptureRates)
    pes: CaptureRates = field(default_factory=lambda: PES_DEFAULTS)
    listing: ListingErrors = field(default_factory=ListingErrors)
    register: RegisterRates = field(default_factory=RegisterRates)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Reject settings that cannot produce a sensible county, naming the setting."""
        if not 100 <= self.persons <= 50_000_000:
            raise ValueError(f"persons must be within 100-50,000,000, got {self.persons}")
        if not (len(self.county_code) == 6 and self.county_code.isdigit()):
            raise ValueError(f"county_code must be 6 digits, got {self.county_code!r}")
        if not 10 <= self.ea_households_min <= self.ea_households_max <= 400:
            raise ValueError("need 10 <= ea_households_min <= ea_households_max <= 400")
        shares = ("collective_share", "away_within_township", "away_within_county", "away_other_county",
                  "registration_pending", "single_given_name_share", "death_rate", "birth_after_rate",
                  "death_report_omission")
        for name in shares:
            value = getattr(self, name)
            if not 0.0 <= value <= 0.5 and name != "single_given_name_share":
                raise ValueError(f"{name} must be within 0-0.5, got {value}")
            if name == "single_given_name_share" and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability, got {value}")
        if self.away_within_township + self.away_within_county + self.away_other_county > 0.9:
            raise ValueError("the away_* shares add up to more than 0.9")
        if self.enumerators_per_supervisor < 1:
            raise ValueError("enumerators_per_supervisor must be at least 1")
        self.census.validate("census")
        self.pes.validate("pes")
        self.listing.validate("listing")
        self.register.validate("register")

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON/YAML-ready); ``from_dict`` reads it back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthConfig:
        """Build from a (possibly partial) dict; unknown keys are an error, not ignored."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown synth settings: {', '.join(unknown)}")
        defaults: dict[str, Any] = {"census": CaptureRates(), "pes": PES_DEFAULTS, "register": RegisterRates()}
        for key, base in defaults.items():
            if key in data and not isinstance(data[key], type(base)):
                sub = dict(data[key] or {})
                rate_names = {f.name for f in dataclasses.fields(base)}
                bad = sorted(set(sub) - rate_names)
                if bad:
                    raise ValueError(f"unknown {key} rates: {', '.join(bad)}")
                data[key] = dataclasses.replace(base, **sub)
        if "listing" in data and not isinstance(data["listing"], ListingErrors):
            sub = dict(data["listing"] or {})
            bad = sorted(set(sub) - {f.name for f in dataclasses.fields(ListingErrors)})
            if bad:
                raise ValueError(f"unknown listing rates: {', '.join(bad)}")
            data["listing"] = ListingErrors(**sub)
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SynthConfig:
        """Read a YAML mapping of settings; missing ones keep their defaults."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of synth settings")
        return cls.from_dict(data)
