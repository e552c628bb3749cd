"""A Western (Australian) person table with no phone and no e-mail, for measuring record linkage.

``generate_people(records, seed)`` draws a population of adults living in households and writes each person into
one to five records, every record an independent, imperfect capture of the person's facts, in the style of the
Febrl / electoral-roll tables deduplication tools are judged on: ``id, given_name, surname, date_of_birth,
street_number, street, suburb, postcode, state``. ``truth`` maps every record to its person; ``hard_negatives``
lists pairs of *different* people who look alike. ``PeopleTable.write`` adds a ``crmkit dedupe`` config.

The data is written from knowledge of the world, not of any matcher. Rates are per record unless stated; where a
phenomenon needs something to act on (a nickname, a middle name, a unit number) the rate is of the records that
have it. They follow what administrative person data shows: a few per cent of typos per field, nicknames in
several per cent of captures, a fifth of duplicates at another address (Australians move every 5–7 years and
registers lag), day/month swaps where month-first entry meets day-first dates, 1 January for an unknown birthday.

**Population.** The geography and the name frequencies are fixed; the seed draws the people and their region.

| what | value |
| --- | --- |
| surnames | 1,085 real ones by rank: the top ten at their Australian shares (Smith 0.87%, Jones 0.46% ... |
| | Anderson 0.29%: 4.2%), then Zipf (top 100 18%, rank 1,000 ≈ 1 in 8,700; 45% in all), then 7,530 composed |
| | long-tail ones (Ashworth-, Castellini-, Stavropoulos-, Grabowski-, Rosenfeld-like) sharing 55%, flatter |
| double-barrelled | 1.5% of families (``Smith-Jones``) |
| given names | 954, by sex and by the generation that used them (born before 1955 / 1955–79 / from 1980): |
| | Margaret and Kenneth old, Kylie and Darren middle-aged, Chloe and Lachlan young; John is 6% of the |
| | oldest men, the top ten names 22–29% of a sex and generation; 48% of people have a nickname family |
| middle name | 44% of people |
| ages | 18–100 on 1 July 2025, in the Australian adult age pyramid |
| suburbs | 2,694 in 8 states: 882 real names, the rest composed (``Glenwood Park``, ``Ringwood North``, |
| | ``Warinda``); log-normal sizes; state shares as the population (NSW 31.5%, VIC 26%, QLD 20.5% ...) |
| postcodes | 1,328, synthetic inside each state's real range; 1–5 suburbs share one; NT's begin with 0 |
| region | a table covers one suburb per 40 people (at least 60), starting in one state and spilling into the next: |
| | 2,000 records are a local register, 100,000 span ~1,500 suburbs, 1,000,000 the country |
| streets | 319 names (Zipf), 18 types (Street 40%, Road 17%, Avenue 11%, Drive 8% ...); 14% of homes are units |

**Households** (sharing an address; every member is their own entity). 71% of people live with someone else.

| unit | share | notes |
| --- | ---: | --- |
| one person | 50% of units | women over 25 (outside one-surname couples): 6% also use another surname |
| couple, one surname | 22% | 30% of these wives also appear under their maiden name |
| couple, two surnames | 7% | not hard negatives (different surnames) |
| couple + 1–3 adult children | 11% | 15% of mothers keep their own surname; children take the father's |
| single parent + 1–2 adult children | 6% | 15% of the children carry the other parent's surname |
| adult siblings (2–3) | 4% | |
| twins | 6% of units with two or more children | same DOB; 60% same sex; 30% share an initial (Matthew, Michael) |
| child named after the parent | 12% of first sons, 4% of first daughters | 25–35 years apart; Jr/Jnr/II on 12% of |
| | | the son's records, Sr/Snr on 5% of the father's |
| namesakes born the same day | one pair per 2,500 people, placed apart | plus any that arise by chance |

**Records per person**: 1: 55%, 2: 30%, 3: 10%, 4: 3%, 5: 2% (mean 1.67; 0.98 true duplicate pairs per person),
nudged at random so that the table has exactly ``records`` rows; rows are shuffled.

**Corruptions**, drawn independently per record:

| field | phenomenon | rate |
| --- | --- | ---: |
| given name | nickname or formal/spelling variant (Bob↔Robert, Kate↔Katherine; 129 families) | 7%* |
| | typo: keyboard neighbour, deletion, insertion, transposition, OCR (rn/m), by ear (ph/f) | 3% |
| | initial only (``J``, ``J.``) / missing / swapped with the surname | 2.5% / 1.5% / 1% |
| | middle name written too (``John Michael``) / middle initial (``John M``) | 5% / 3% |
| | hyphenated name shortened or re-joined (``Mary-Anne``: ``Mary``, ``Anne``, ``Mary Anne``, ``Maryanne``) | 40% |
| surname | typo | 2.5% |
| | spelling variant (Smyth, Thompson, MacDonald/Mcdonald, OBrien/O Brien, Mueller, Philips, DeSilva) | 4%* |
| | missing | 0.7% |
| | the person's other (maiden or married) surname; 70% of these at a former address | 35% |
| | double-barrelled name: one part kept, or a space for the hyphen | 40% |
| names | stray space or punctuation (``Smith ``, ``Smith,``, ``John.``), per name | 1.2% |
| | Jr/Jnr/II, Sr/Snr (see households) | |
| date of birth | formats: ``19850305`` 25%, ``05/03/1985`` 30%, ``1985-03-05`` 18%, ``5/3/1985`` 10%, | |
| | ``5/3/85`` 6%, ``5 Mar 1985`` 5%, ``05-03-1985`` 3%, ``05-Mar-1985`` 3% (day first: ``date_order: dmy``) | |
| | missing | 3% |
| | one digit wrong (still a valid date) | 1.5% |
| | day and month swapped (only where both ≤ 12: entry validation rejects the rest) | 1% |
| | year off by one / last two digits transposed (1958 ↔ 1985), else a decade off | 1% / 0.3% |
| | 1 January placeholder for an unknown day and month | 0.7% |
| address | a former home (15% the previous one, 5% the one before: 30% same suburb, 50% same state) | 20% |
| | whole address missing | 1% |
| | street number typo / missing / written into the street column (``14 Smith St``) | 2% / 3% / 2% |
| | unit as ``2/14`` / ``Unit 2/14`` / ``U2/14`` / dropped (``14``) | 72% / 6% / 5% / 17% |
| | street type in full / abbreviated (``St``) / with a dot (``St.``) / left out | 50% / 42% / 4% / 4% |
| | street name typo / missing | 1.5% / 1.5% |
| | suburb typo / variant (``Mount``↔``Mt``, ``St``↔``Saint``, ``Heights``↔``Hts``) / missing | 2% / 3%* / 1.5% |
| | postcode typo / missing; NT postcode without its leading zero (``800``) | 1.5% / 3%; 25% |
| | state in full (``New South Wales``) / missing | 8% / 5% |
| whole record | in capitals / in lower case | 12% / 2% |

*: of the records that have one: 48% of people have a given name with a nickname family, 31% a surname with a
known respelling; the middle-name, hyphen, unit and double-barrel rates are likewise of the records they apply to.

**Hard negatives** (``entity_a < entity_b``, one kind per pair, the first that applies): ``twins`` (same surname,
address and DOB, other given name); ``father_son`` (same given name and surname, same address, DOB 25–35 years
apart: fathers and sons, and mothers and daughters); ``household`` (every other pair of one household with the
same surname: spouses, siblings, parents and children); ``same_name_dob`` (same given name, surname and DOB,
different addresses: the deliberate pairs and any chance ones); ``same_name`` (same given name and surname in one
postcode, from the name frequencies alone, at most 12 people per name and postcode; grows with the square of
the table's density).

**Size and speed** (seed 1, one core of this project's 2-core machine with other work running, load ≈ 1.5;
peak RSS of the whole process, imports included):

| records | seconds | peak RSS | people | true pairs | household | father_son | twins | same_name_dob | same_name |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| 100,000 | 1.5 | 0.20 GB | 59,880 | 58,545 | 29,283 | 414 | 156 | 23 | 11 |
| 1,000,000 | 18.2 | 1.25 GB | 598,802 | 586,625 | 290,580 | 4,223 | 1,483 | 251 | 690 |
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from . import _western_names as W

__all__ = ["DEDUPE_CONFIG", "RECORD_COLUMNS", "PeopleTable", "generate_people"]

logger = logging.getLogger(__name__)

#: The columns of ``PeopleTable.records``, in order; all ``pl.String``.
RECORD_COLUMNS: tuple[str, ...] = (
    "id",
    "given_name",
    "surname",
    "date_of_birth",
    "street_number",
    "street",
    "suburb",
    "postcode",
    "state",
)
HARD_NEGATIVE_KINDS: tuple[str, ...] = ("twins", "father_son", "household", "same_name_dob", "same_name")

REFERENCE_DATE = dt.date(2025, 7, 1)  # ages are measured on this day
_EPOCH = dt.date(1970, 1, 1)
_REF_DAYS = (REFERENCE_DATE - _EPOCH).days
_GEOGRAPHY_SEED = 20251123  # the world (suburbs, postcodes, tail surnames) does not depend on the caller's seed

# ------------------------------------------------------------------------------------------ population rates
RECORDS_PER_PERSON: tuple[tuple[int, float], ...] = ((1, 0.55), (2, 0.30), (3, 0.10), (4, 0.03), (5, 0.02))
_MEAN_RECORDS = sum(k * p for k, p in RECORDS_PER_PERSON)

_SINGLE, _COUPLE_SAME, _COUPLE_DIFF, _FAMILY, _SINGLE_PARENT, _SIBLINGS = range(6)
UNIT_SHARES: tuple[float, ...] = (0.50, 0.22, 0.07, 0.11, 0.06, 0.04)
CHILDREN_FAMILY: tuple[tuple[int, float], ...] = ((1, 0.55), (2, 0.35), (3, 0.10))
CHILDREN_SINGLE_PARENT: tuple[tuple[int, float], ...] = ((1, 0.65), (2, 0.35))
P_TWINS = 0.06  # of units with two or more children
P_NAMED_AFTER_FATHER = 0.12  # first son
P_NAMED_AFTER_MOTHER = 0.04  # first daughter
P_MOTHER_OWN_SURNAME = 0.15
P_CHILD_OTHER_SURNAME = 0.15  # children of a single parent
P_WIFE_MAIDEN_RECORDS = 0.30
P_WOMAN_OTHER_SURNAME = 0.06  # women over 25 outside a one-surname couple
P_MIDDLE_NAME = 0.45
P_DOUBLE_BARRELLED = 0.015
PEOPLE_PER_SAME_NAME_DOB = 2500
SAME_NAME_CAP = 12  # people paired per (given name, surname, postcode)
#: Adult age pyramid: (from, to, share).
AGE_PYRAMID: tuple[tuple[float, float, float], ...] = (
    (18, 25, 0.12), (25, 35, 0.18), (35, 45, 0.17), (45, 55, 0.16), (55, 65, 0.15), (65, 75, 0.12),
    (75, 85, 0.07), (85, 100, 0.03),
)  # fmt: skip
#: Shares of the ten commonest Australian surnames (Smith ... Anderson), then Zipf down the real list.
SURNAME_HEAD_SHARES: tuple[float, ...] = (0.0087, 0.0046, 0.0044, 0.0042, 0.0039, 0.0038, 0.0032, 0.0030, 0.0030,
                                          0.0029)  # fmt: skip
REAL_SURNAME_SHARE = 0.45
P_UNIT_HOME = 0.14
N_SUBURBS = 2600
PEOPLE_PER_SUBURB = 40  # a table covers a region sized to it
MIN_SUBURBS = 60

# ------------------------------------------------------------------------------------------ record rates
# Event -> probability per record (events of one field exclude each other; the rest is "as is"), or shares.
GIVEN_EVENTS = {"typo": 0.03, "variant": 0.07, "initial": 0.025, "missing": 0.015, "swap": 0.01,
                "middle": 0.05, "middle_initial": 0.03}  # fmt: skip
SURNAME_EVENTS = {"typo": 0.025, "variant": 0.04, "missing": 0.007}
DOB_EVENTS = {"missing": 0.03, "digit": 0.015, "swap": 0.01, "year": 0.01, "transpose": 0.003, "jan1": 0.007}
DOB_FORMATS = {"ymd_basic": 0.25, "ymd_iso": 0.18, "dmy_slash": 0.30, "dmy_short": 0.10, "dmy_yy": 0.06,
               "dmy_dash": 0.03, "d_mon_y": 0.05, "dd_mon_y": 0.03}  # fmt: skip
ADDRESS_SELECT = {"previous": 0.15, "earlier": 0.05}
NUMBER_EVENTS = {"typo": 0.02, "missing": 0.03, "in_street": 0.02}
UNIT_FORMATS = {"slash": 0.72, "unit_word": 0.06, "u_prefix": 0.05, "dropped": 0.17}
STREET_TYPE_STYLES = {"full": 0.50, "abbr": 0.42, "abbr_dot": 0.04, "omitted": 0.04}
STREET_EVENTS = {"typo": 0.015, "missing": 0.015}
SUBURB_EVENTS = {"typo": 0.02, "variant": 0.03, "missing": 0.015}
POSTCODE_EVENTS = {"typo": 0.015, "missing": 0.03}
STATE_EVENTS = {"full": 0.08, "missing": 0.05}
CASE_STYLES = {"upper": 0.12, "lower": 0.02}
P_ADDRESS_MISSING = 0.01
P_HYPHEN_SHORTENED = 0.40
P_DOUBLE_BARREL_PARTIAL = 0.40
P_OTHER_SURNAME_RECORD = 0.35
P_MOVE_WITH_OTHER_SURNAME = 0.70
P_JUNIOR_SUFFIX = 0.12
P_SENIOR_SUFFIX = 0.05
P_STRAY = 0.012
P_NT_LEADING_ZERO_LOST = 0.25

_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class PeopleTable:
    """A generated person table with its truth.

    Attributes:
        records: one row per record: ``id, given_name, surname, date_of_birth, street_number, street, suburb,
            postcode, state``, all ``pl.String``, null where empty; ``id`` is unique (``rec-000123``).
        truth: ``id, entity_id``: the person behind every record.
        hard_negatives: ``entity_a, entity_b, kind``: pairs of different people who look alike (kinds
            ``twins``, ``father_son``, ``household``, ``same_name_dob``, ``same_name``).
    """

    records: pl.DataFrame
    truth: pl.DataFrame
    hard_negatives: pl.DataFrame

    def write(self, folder: Path) -> dict[str, Path]:
        """Write the table, its truth, the hard negatives and a ``crmkit dedupe`` config into ``folder``.

        Args:
            folder: where to write (created when missing).

        Returns:
            Role -> path: ``people`` (people.csv), ``truth`` (truth.csv), ``hard_negatives``
            (hard_negatives.csv) and ``config`` (dedupe.yaml), all UTF-8 with a header.
        """
        folder.mkdir(parents=True, exist_ok=True)
        paths = {
            "people": folder / "people.csv",
            "truth": folder / "truth.csv",
            "hard_negatives": folder / "hard_negatives.csv",
            "config": folder / "dedupe.yaml",
        }
        self.records.write_csv(paths["people"])
        self.truth.write_csv(paths["truth"])
        self.hard_negatives.write_csv(paths["hard_negatives"])
        paths["config"].write_text(DEDUPE_CONFIG, encoding="utf-8")
        return paths


#: ``crmkit dedupe people.csv --config dedupe.yaml``: maps the table's columns (see README, "Deduplicating any
#: table of people"). ``street_number`` and ``state`` have no field of their own there and stay unmapped.
DEDUPE_CONFIG = """\
# crmkit dedupe people.csv --config dedupe.yaml --out clusters.csv
# A person table with no phone or e-mail (synthetic.people). Ambiguous dates are day-first.
columns:
  given_name: first_name
  surname: last_name
  date_of_birth: birth_date
  street: street
  suburb: city
  postcode: postcode
id_column: id
region: AU
date_order: dmy
"""


def generate_people(records: int, seed: int = 1) -> PeopleTable:
    """Draw a person table of exactly ``records`` rows with its truth and hard negatives.

    Args:
        records: number of rows (at least 1). About 60% as many people stand behind them.
        seed: the same seed gives equal frames; the geography and name frequencies do not depend on it.

    Returns:
        The records, the truth (record -> person) and the pairs of different people who look alike.

    Raises:
        ValueError: when ``records`` is below 1.
    """
    if records < 1:
        raise ValueError(f"records must be at least 1, got {records}")
    started = time.perf_counter()
    world = _world()
    rng = np.random.default_rng(seed)
    rnd = random.Random(seed)
    people = max(1, round(records / _MEAN_RECORDS))
    pop = _Population.draw(people, world, rng, rnd)
    counts = _records_per_person(people, records, rng)
    frame, entity_of_record = _write_records(pop, counts, world, rng, rnd)
    width = max(6, len(str(records)))
    ids = [f"rec-{i:0{width}d}" for i in range(1, records + 1)]
    entity_ids = pop.entity_ids()
    frame = frame.with_columns(pl.Series("id", ids, dtype=pl.String)).select(RECORD_COLUMNS)
    truth = pl.DataFrame(
        {"id": ids, "entity_id": [entity_ids[e] for e in entity_of_record.tolist()]},
        schema={"id": pl.String, "entity_id": pl.String},
    )
    hard = pop.hard_negatives(world)
    logger.debug("generated %s records of %s people in %.2f s", records, people, time.perf_counter() - started)
    return PeopleTable(records=frame, truth=truth, hard_negatives=hard)


# ------------------------------------------------------------------------------------------ the world
@dataclass(frozen=True)
class _World:
    surnames: tuple[str, ...]
    surname_p: np.ndarray
    given: tuple[str, ...]
    given_sex: np.ndarray  # 0 male, 1 female, per given name
    given_p: dict[tuple[int, int], np.ndarray]  # (sex, cohort) -> probability over all given names
    given_cum: dict[tuple[int, int], list[float]]
    given_alternatives: dict[str, tuple[str, ...]]
    surname_table_variants: dict[str, tuple[str, ...]]
    suburbs: tuple[str, ...]
    suburb_state: np.ndarray
    suburb_postcode: tuple[str, ...]
    suburb_p: np.ndarray
    state_suburbs: tuple[np.ndarray, ...]
    state_suburb_p: tuple[np.ndarray, ...]
    streets: tuple[str, ...]
    street_p: np.ndarray
    street_types: tuple[str, ...]
    street_type_abbr: tuple[tuple[str, ...], ...]
    street_type_p: np.ndarray
    states: tuple[str, ...]
    state_names: tuple[str, ...]


def _words(text: str) -> list[str]:
    return [w.replace("_", " ") for w in text.split()]


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _zipf(n: int, offset: float, exponent: float) -> np.ndarray:
    return (np.arange(1, n + 1, dtype=np.float64) + offset) ** -exponent


@functools.cache
def _world() -> _World:
    wrng = random.Random(_GEOGRAPHY_SEED)
    surnames, surname_p = _surname_distribution(wrng)
    given, given_sex, given_p = _given_distribution()
    given_cum = {key: np.cumsum(p).tolist() for key, p in given_p.items()}
    suburbs, suburb_state, postcodes, suburb_p = _geography(wrng)
    state_suburbs = tuple(np.flatnonzero(suburb_state == s) for s in range(len(W.STATES)))
    state_suburb_p = tuple(suburb_p[idx] / suburb_p[idx].sum() for idx in state_suburbs)
    streets = _unique(_words(W.STREET_NAMES))
    street_p = _zipf(len(streets), 10, 0.8)
    type_p = np.array([t[2] for t in W.STREET_TYPES])
    return _World(
        surnames=tuple(surnames),
        surname_p=surname_p,
        given=tuple(given),
        given_sex=given_sex,
        given_p=given_p,
        given_cum=given_cum,
        given_alternatives=_families(W.NICKNAMES),
        surname_table_variants=_families(W.SURNAME_VARIANTS),
        suburbs=tuple(suburbs),
        suburb_state=suburb_state,
        suburb_postcode=tuple(postcodes),
        suburb_p=suburb_p,
        state_suburbs=state_suburbs,
        state_suburb_p=state_suburb_p,
        streets=tuple(streets),
        street_p=street_p / street_p.sum(),
        street_types=tuple(t[0] for t in W.STREET_TYPES),
        street_type_abbr=tuple(t[1] for t in W.STREET_TYPES),
        street_type_p=type_p / type_p.sum(),
        states=tuple(s[0] for s in W.STATES),
        state_names=tuple(s[1] for s in W.STATES),
    )


def _surname_distribution(wrng: random.Random) -> tuple[list[str], np.ndarray]:
    """Real surnames in rank order (45% of people: the top ten as measured, then Zipf), then a flatter composed tail."""
    top = _words(W.SURNAMES_TOP)
    anglo, migrant = _words(W.SURNAMES_ANGLO), _words(W.SURNAMES_MIGRANT)
    body = sorted(
        [(i / len(anglo), 0, name) for i, name in enumerate(anglo)]
        + [(i / len(migrant), 1, name) for i, name in enumerate(migrant)]
    )
    real = _unique(top + [name for _, _, name in body])
    known = set(real)
    tail: list[str] = []
    for firsts, endings in W.TAIL_STYLES:
        for first in firsts.split():
            for ending in endings.split():
                name = first + ending
                if name not in known:
                    known.add(name)
                    tail.append(name)
    wrng.shuffle(tail)
    head = np.array(SURNAME_HEAD_SHARES)
    body_w = _zipf(len(real) - len(head), 10 + 50, 1.1)
    tail_w = _zipf(len(tail), 2000, 0.5)
    p = np.concatenate(
        [
            head,
            (REAL_SURNAME_SHARE - head.sum()) * body_w / body_w.sum(),
            (1 - REAL_SURNAME_SHARE) * tail_w / tail_w.sum(),
        ]
    )
    return real + tail, p / p.sum()


_ERA_WEIGHTS = {  # list -> weight for people born before 1955, 1955-79, from 1980
    "classic": (0.6, 0.6, 0.6),
    "old": (1.0, 0.12, 0.02),
    "mid": (0.08, 1.0, 0.12),
    "young": (0.01, 0.1, 1.0),
}


def _given_distribution() -> tuple[list[str], np.ndarray, dict[tuple[int, int], np.ndarray]]:
    lists = {
        0: {"classic": W.MALE_CLASSIC, "old": W.MALE_OLD, "mid": W.MALE_MID, "young": W.MALE_YOUNG},
        1: {"classic": W.FEMALE_CLASSIC, "old": W.FEMALE_OLD, "mid": W.FEMALE_MID, "young": W.FEMALE_YOUNG},
    }
    names: list[str] = []
    sexes: list[int] = []
    index: dict[tuple[int, str], int] = {}
    for sex, eras in lists.items():
        for text in eras.values():
            for name in _words(text):
                if (sex, name) not in index:
                    index[(sex, name)] = len(names)
                    names.append(name)
                    sexes.append(sex)
    probabilities: dict[tuple[int, int], np.ndarray] = {}
    for sex, eras in lists.items():
        for cohort in range(3):
            w = np.zeros(len(names))
            for era, text in eras.items():
                ranked = _unique(_words(text))
                weights = _zipf(len(ranked), 3, 1.0) * _ERA_WEIGHTS[era][cohort]
                for name, weight in zip(ranked, weights, strict=True):
                    w[index[(sex, name)]] += weight
            probabilities[(sex, cohort)] = w / w.sum()
    return names, np.array(sexes, dtype=np.int8), probabilities


def _families(text: str) -> dict[str, tuple[str, ...]]:
    """Name -> the other names of every family it belongs to (in the order written)."""
    alternatives: dict[str, list[str]] = {}
    for line in text.strip().splitlines():
        family = _unique(_words(line))
        for name in family:
            alternatives.setdefault(name, [])
            alternatives[name] += [other for other in family if other != name]
    return {name: tuple(_unique(others)) for name, others in alternatives.items()}


_TRIPLE = re.compile(r"([a-z])\1\1|[aeiou]{3}")  # no "Toonjeeee"


def _geography(wrng: random.Random) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Suburbs per state (real names, then composed ones), their postcodes and sizes."""
    firsts, seconds = W.SUBURB_FIRST.split(), W.SUBURB_SECOND.split()
    syllables = [part.split() for part in W.SUBURB_SYLLABLES]
    names: list[str] = []
    states: list[int] = []
    postcodes: list[str] = []
    weights: list[float] = []
    for s, (abbr, _, share, ranges) in enumerate(W.STATES):
        real = _unique(_words(W.SUBURBS[abbr]))
        target = max(len(real) + 20, round(N_SUBURBS * share))
        chosen = list(real)
        seen = set(chosen)
        while len(chosen) < target:
            roll = wrng.random()
            if roll < 0.35:
                base = wrng.choice(real)
                if wrng.random() < 0.6:
                    name = f"{base} {wrng.choice(W.SUBURB_SUFFIXES)}"
                else:
                    name = f"{wrng.choice(W.SUBURB_PREFIXES)} {base}"
            elif roll < 0.75:
                name = wrng.choice(firsts) + wrng.choice(seconds)
                if wrng.random() < 0.25:
                    name = f"{name} {wrng.choice(W.SUBURB_SUFFIXES)}"
            else:
                parts = [wrng.choice(syllables[0]), wrng.choice(syllables[1])]
                if wrng.random() < 0.6:
                    parts.append(wrng.choice(syllables[2]))
                name = "".join(parts).capitalize()
            if name not in seen and not _TRIPLE.search(name.lower()):
                seen.add(name)
                chosen.append(name)
        wrng.shuffle(chosen)
        # group neighbours under one postcode: 1-5 suburbs each, postcodes ascending through the state's ranges
        groups: list[int] = []
        while sum(groups) < len(chosen):
            groups.append(bisect.bisect([0.45, 0.70, 0.85, 0.95], wrng.random()) + 1)
        pool = [code for lo, hi in ranges for code in range(lo, hi + 1)]
        codes = sorted(wrng.sample(pool, min(len(groups), len(pool))))
        position = 0
        for g, size in enumerate(groups):
            code = f"{codes[min(g, len(codes) - 1)]:04d}"
            for name in chosen[position : position + size]:
                names.append(name)
                states.append(s)
                postcodes.append(code)
                weights.append(share * wrng.lognormvariate(0.0, 1.0) * (1.5 if name in real else 1.0))
            position += size
    w = np.array(weights)
    for s, (_, _, share, _) in enumerate(W.STATES):  # keep each state's population share
        mask = np.array(states) == s
        w[mask] *= share / w[mask].sum()
    return names, np.array(states, dtype=np.int8), postcodes, w / w.sum()


# ------------------------------------------------------------------------------------------ the population
@dataclass
class _Addresses:
    """Address table: one row per address (homes now and homes before)."""

    number: np.ndarray
    unit: np.ndarray
    street: np.ndarray
    street_type: np.ndarray
    suburb: np.ndarray

    @classmethod
    def draw(cls, suburbs: np.ndarray, world: _World, rng: np.random.Generator) -> _Addresses:
        n = len(suburbs)
        number = np.minimum(1 + np.floor(rng.lognormal(np.log(18.0), 0.95, n)), 450).astype(np.int32)
        unit = np.where(rng.random(n) < P_UNIT_HOME, np.minimum(rng.geometric(0.18, n), 60), 0).astype(np.int32)
        street = rng.choice(len(world.streets), size=n, p=world.street_p).astype(np.int32)
        street_type = rng.choice(len(world.street_types), size=n, p=world.street_type_p).astype(np.int8)
        return cls(number, unit, street, street_type, suburbs.astype(np.int32))

    @staticmethod
    def concat(parts: Sequence[_Addresses]) -> _Addresses:
        fields = ("number", "unit", "street", "street_type", "suburb")
        return _Addresses(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def _region(world: _World, people: int, rng: np.random.Generator) -> np.ndarray:
    """Home-suburb probabilities for a table of ``people``: a region sized to the table.

    One suburb per ``PEOPLE_PER_SUBURB`` people (at least ``MIN_SUBURBS``): the region starts in one state
    (drawn by population) and spills into the next largest, taking suburbs in an order favouring large ones.
    """
    size = max(MIN_SUBURBS, people // PEOPLE_PER_SUBURB)
    if size >= len(world.suburbs):
        return world.suburb_p
    shares = np.array([state[2] for state in W.STATES])
    first = int(rng.choice(len(shares), p=shares / shares.sum()))
    chosen: list[int] = []
    for s in [first, *(s for s in range(len(shares)) if s != first)]:
        idx = world.state_suburbs[s]
        take = min(len(idx), size - len(chosen))
        chosen += rng.choice(idx, size=take, replace=False, p=world.state_suburb_p[s]).tolist()
        if len(chosen) >= size:
            break
    p = np.zeros(len(world.suburbs))
    p[chosen] = world.suburb_p[chosen]
    p /= p.sum()
    return p


def _age(rnd: random.Random, low: float = 18.0) -> float:
    cum = _AGE_CUM
    while True:
        lo, hi, _ = AGE_PYRAMID[bisect.bisect(cum, rnd.random() * cum[-1])]
        age = lo + rnd.random() * (hi - lo)
        if age >= low:
            return age


_AGE_CUM = np.cumsum([share for _, _, share in AGE_PYRAMID]).tolist()


def _pick(rnd: random.Random, options: Sequence[tuple[int, float]]) -> int:
    roll = rnd.random() * sum(p for _, p in options)
    for value, p in options:
        roll -= p
        if roll < 0:
            return value
    return options[-1][0]


class _Population:
    """People (arrays indexed by person), their households and the pairs that look alike by construction."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.unit = np.zeros(n, dtype=np.int32)
        self.sex = np.zeros(n, dtype=np.int8)
        self.dob = np.zeros(n, dtype=np.int32)  # days since 1970-01-01
        self.given: list[str] = []
        self.middle: list[str | None] = []
        self.surname: list[str] = []
        self.other_surname: list[str | None] = []
        self.suffix = np.zeros(n, dtype=np.int8)  # 1 junior, 2 senior
        self.home = np.zeros(n, dtype=np.int32)  # address ids
        self.previous = np.zeros(n, dtype=np.int32)
        self.earlier = np.zeros(n, dtype=np.int32)
        self.addresses: _Addresses
        self.members: list[list[int]] = []  # per unit with two or more people
        self.special: dict[tuple[int, int], str] = {}
        self.deliberate: list[tuple[int, int]] = []

    def entity_ids(self) -> list[str]:
        width = max(6, len(str(self.n)))
        return [f"ent-{i:0{width}d}" for i in range(1, self.n + 1)]

    @classmethod
    def draw(cls, n: int, world: _World, rng: np.random.Generator, rnd: random.Random) -> _Population:
        pop = cls(n)
        sex: list[int] = []
        age: list[float] = []
        unit: list[int] = []
        surname_src: list[int] = []  # -1: own surname; else the person whose surname they carry
        given_src: list[int] = []  # -1: own given name; else the parent they are named after
        twin_of: list[int] = []
        may_change: list[int] = []  # 0 no, 1 woman with maybe another surname, 2 wife with maybe a maiden name
        suffix: list[int] = []
        members: list[list[int]] = []

        def add(s: int, a: float, sur: int = -1, giv: int = -1, twin: int = -1, change: int = 0) -> int:
            i = len(sex)
            sex.append(s)
            age.append(min(max(a, 18.0), 100.0))
            unit.append(len(members))
            surname_src.append(sur)
            given_src.append(giv)
            twin_of.append(twin)
            may_change.append(change)
            suffix.append(0)
            return i

        def root(i: int) -> int:
            """The person whose own surname ``i`` carries."""
            return i if surname_src[i] < 0 else surname_src[i]

        def woman(s: int, a: float) -> int:
            return 1 if s == 1 and a >= 25 else 0

        def children(parent: int, other: int | None, k: int, surname_of: int, other_surname_p: float) -> list[int]:
            """Adult children of ``parent`` (and ``other``); the first son/daughter may carry the parent's name."""
            kids: list[int] = []
            father = parent if sex[parent] == 0 else other
            mother = parent if sex[parent] == 1 else other
            youngest_parent = min(age[parent], age[other] if other is not None else 200.0)
            named_son = named_daughter = False
            for j in range(k):
                if j == 1 and rnd.random() < P_TWINS:
                    s = sex[kids[0]] if rnd.random() < 0.6 else 1 - sex[kids[0]]
                    kid = add(s, age[kids[0]], sur=root(kids[0]), twin=kids[0])
                    pop.special[(kids[0], kid)] = "twins"
                    kids.append(kid)
                    continue
                s = int(rnd.random() < 0.5)
                sur = -1 if rnd.random() < other_surname_p else surname_of
                namesake = father if s == 0 else mother
                p_named = P_NAMED_AFTER_FATHER if s == 0 else P_NAMED_AFTER_MOTHER
                first_of_sex = not (named_son if s == 0 else named_daughter) and all(sex[x] != s for x in kids)
                same_surname = namesake is not None and root(namesake) == root(surname_of)
                if (
                    namesake is not None
                    and same_surname
                    and first_of_sex
                    and age[namesake] >= 45
                    and rnd.random() < p_named
                ):
                    a = age[namesake] - rnd.uniform(25, min(35, age[namesake] - 18))
                    kid = add(s, a, sur=surname_of, giv=namesake)
                    suffix[kid], suffix[namesake] = 1, 2
                    pop.special[(namesake, kid)] = "father_son"
                    if s == 0:
                        named_son = True
                    else:
                        named_daughter = True
                else:
                    a = youngest_parent - rnd.uniform(20, max(20.5, min(42, youngest_parent - 18)))
                    kid = add(s, a, sur=sur)
                kids.append(kid)
            return kids

        while len(sex) < n:
            kind = _pick(rnd, list(enumerate(UNIT_SHARES)))
            start = len(sex)
            if kind == _SINGLE:
                s = int(rnd.random() < 0.51)
                a = _age(rnd)
                add(s, a, change=woman(s, a))
            elif kind == _COUPLE_SAME:
                head = add(0, _age(rnd, 21))
                add(1, age[head] - rnd.gauss(2.5, 3.5), sur=head, change=2)
            elif kind == _COUPLE_DIFF:
                s = int(rnd.random() < 0.5)
                first = add(s, _age(rnd, 20))
                s2 = 1 - s if rnd.random() < 0.92 else s
                a = age[first] + rnd.gauss(0, 4)
                add(s2, a, change=woman(s2, a))
            elif kind == _FAMILY:
                father = add(0, rnd.triangular(44, 86, 55))
                own = rnd.random() < P_MOTHER_OWN_SURNAME
                mother = add(1, max(40.0, age[father] - rnd.gauss(2.5, 3)), sur=-1 if own else father,
                             change=0 if own else 2)  # fmt: skip
                children(father, mother, _pick(rnd, CHILDREN_FAMILY), father, 0.0)
            elif kind == _SINGLE_PARENT:
                s = int(rnd.random() < 0.75)
                a = rnd.triangular(42, 86, 52)
                parent = add(s, a, change=woman(s, a))
                children(parent, None, _pick(rnd, CHILDREN_SINGLE_PARENT), parent, P_CHILD_OTHER_SURNAME)
            else:
                first = add(int(rnd.random() < 0.5), rnd.uniform(18, 45))
                for _ in range(_pick(rnd, ((1, 0.8), (2, 0.2)))):
                    add(int(rnd.random() < 0.5), age[first] + rnd.choice((-1, 1)) * rnd.uniform(1, 8), sur=first)
            if len(sex) - start > 1:
                members.append(list(range(start, len(sex))))
            else:
                members.append([])

        pop.sex[:] = np.array(sex[:n], dtype=np.int8)
        pop.unit[:] = np.array(unit[:n], dtype=np.int32)
        pop.suffix[:] = np.array(suffix[:n], dtype=np.int8)
        pop.members = [[i for i in m if i < n] for m in members if len([i for i in m if i < n]) > 1]
        pop.special = {pair: kind for pair, kind in pop.special.items() if pair[1] < n}
        days = _REF_DAYS - np.round(np.array(age[:n]) * 365.2425).astype(np.int64) - rng.integers(0, 365, n)
        twin = np.array(twin_of[:n])
        days[twin >= 0] = days[twin[twin >= 0]]
        pop.dob[:] = days.astype(np.int32)
        pop._draw_names(world, rng, rnd, given_src[:n], surname_src[:n], may_change[:n])
        pop._draw_addresses(world, rng, len(members))
        pop._deliberate_namesakes(world, rng)
        return pop

    def _cohort(self) -> np.ndarray:
        years = self.dob.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        return np.where(years < 1955, 0, np.where(years < 1980, 1, 2)).astype(np.int8)

    def _draw_given(self, world: _World, rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
        out = np.full(self.n, -1, dtype=np.int32)
        cohort = self._cohort()
        for (s, c), p in world.given_p.items():
            idx = np.flatnonzero(mask & (self.sex == s) & (cohort == c))
            if len(idx):
                out[idx] = rng.choice(len(world.given), size=len(idx), p=p)
        return out

    def _draw_names(
        self,
        world: _World,
        rng: np.random.Generator,
        rnd: random.Random,
        given_src: list[int],
        surname_src: list[int],
        may_change: list[int],
    ) -> None:
        n = self.n
        given = self._draw_given(world, rng, np.ones(n, dtype=bool))
        middle = self._draw_given(world, rng, rng.random(n) < P_MIDDLE_NAME)
        cohort = self._cohort().tolist()
        sexes = self.sex.tolist()

        def redraw(i: int) -> int:
            cum = world.given_cum[(sexes[i], cohort[i])]
            return min(bisect.bisect(cum, rnd.random() * cum[-1]), len(cum) - 1)

        names = world.given
        for group in self.members:  # one household: different given names, except a child named after a parent
            taken: set[int] = set()
            for i in group:
                if given_src[i] >= 0:
                    given[i] = given[given_src[i]]
                else:
                    tries = 0
                    while int(given[i]) in taken and tries < 50:
                        given[i] = redraw(i)
                        tries += 1
                taken.add(int(given[i]))
        for (a, b), kind in self.special.items():
            if kind == "twins" and rnd.random() < 0.3:  # Matthew and Michael
                for _ in range(200):
                    candidate = redraw(b)
                    if candidate != given[a] and names[candidate][0] == names[int(given[a])][0]:
                        given[b] = candidate
                        break
        middle[middle == given] = -1
        self.given = [names[g] for g in given.tolist()]
        self.middle = [names[m] if m >= 0 else None for m in middle.tolist()]

        fresh = rng.choice(len(world.surnames), size=n, p=world.surname_p).tolist()
        second = rng.choice(len(world.surnames), size=n, p=world.surname_p).tolist()
        barrel = (rng.random(n) < P_DOUBLE_BARRELLED).tolist()
        surnames = world.surnames
        own = [
            f"{surnames[f]}-{surnames[s]}" if b and f != s else surnames[f]
            for f, s, b in zip(fresh, second, barrel, strict=True)
        ]
        self.surname = [own[i] if surname_src[i] < 0 else own[surname_src[i]] for i in range(n)]
        roll = rng.random(n).tolist()
        other = rng.choice(len(world.surnames), size=n, p=world.surname_p).tolist()
        self.other_surname = [
            surnames[other[i]]
            if ((change == 2 and roll[i] < P_WIFE_MAIDEN_RECORDS) or (change == 1 and roll[i] < P_WOMAN_OTHER_SURNAME))
            and surnames[other[i]] != self.surname[i]
            else None
            for i, change in enumerate(may_change)
        ]

    def _draw_addresses(self, world: _World, rng: np.random.Generator, units: int) -> None:
        """A home per household; two former homes per person (30% same suburb, 50% same state, 20% elsewhere)."""
        n = self.n
        home_suburb = rng.choice(len(world.suburbs), size=units, p=_region(world, n, rng))
        homes = _Addresses.draw(home_suburb, world, rng)
        current = home_suburb[self.unit]
        former: list[_Addresses] = []
        for _ in range(2):
            roll = rng.random(n)
            suburb = np.where(roll < 0.30, current, rng.choice(len(world.suburbs), size=n, p=world.suburb_p))
            in_state = (roll >= 0.30) & (roll < 0.80)
            state = world.suburb_state[current]
            for s, idx in enumerate(world.state_suburbs):
                who = np.flatnonzero(in_state & (state == s))
                if len(who):
                    suburb[who] = rng.choice(idx, size=len(who), p=world.state_suburb_p[s])
            former.append(_Addresses.draw(suburb, world, rng))
        self.addresses = _Addresses.concat([homes, *former])
        self.home = self.unit.copy()
        self.previous = (units + np.arange(n)).astype(np.int32)
        self.earlier = (units + n + np.arange(n)).astype(np.int32)

    def _deliberate_namesakes(self, world: _World, rng: np.random.Generator) -> None:
        """Pairs of unrelated people with the same full name and birthday, living apart."""
        k = max(1, self.n // PEOPLE_PER_SAME_NAME_DOB)
        in_household = np.zeros(self.n, dtype=bool)
        for group in self.members:
            in_household[group] = True
        alone = np.flatnonzero(~in_household & (self.suffix == 0))
        if len(alone) < 2:
            return
        picked = rng.choice(alone, size=min(2 * k, len(alone) // 2 * 2), replace=False)
        suburb = self.addresses.suburb
        for a, b in zip(picked[0::2].tolist(), picked[1::2].tolist(), strict=True):
            if suburb[self.home[a]] == suburb[self.home[b]]:
                continue
            a, b = min(a, b), max(a, b)
            self.sex[b], self.dob[b] = self.sex[a], self.dob[a]
            self.given[b], self.middle[b], self.surname[b] = self.given[a], self.middle[a], self.surname[a]
            self.other_surname[b] = None
            self.deliberate.append((a, b))

    def hard_negatives(self, world: _World) -> pl.DataFrame:
        """Every pair of different people who look alike, with the first kind that applies."""
        pairs: dict[tuple[int, int], str] = dict(self.special)
        for group in self.members:
            for a, b in combinations(group, 2):
                if (a, b) not in pairs and self.surname[a] == self.surname[b]:
                    pairs[(a, b)] = "household"
        for pair in self.deliberate:
            pairs.setdefault(pair, "same_name_dob")
        postcode = [world.suburb_postcode[s] for s in self.addresses.suburb[self.home].tolist()]
        people = pl.DataFrame(
            {
                "i": np.arange(self.n),
                "given": self.given,
                "surname": self.surname,
                "dob": self.dob,
                "postcode": postcode,
                "home": self.home,
            }
        )
        for place, kind in (("dob", "same_name_dob"), ("postcode", "same_name")):
            keys = ["given", "surname", place]
            groups = (
                people.group_by(keys)
                .agg(pl.col("i").sort().head(SAME_NAME_CAP), pl.col("home").n_unique().alias("homes"))
                .filter((pl.col("i").list.len() > 1) & (pl.col("homes") > 1))
                .get_column("i")
                .to_list()
            )
            for group in groups:
                for a, b in combinations(group, 2):
                    if self.home[a] != self.home[b]:
                        pairs.setdefault((a, b), kind)
        ids = self.entity_ids()
        ordered = sorted(pairs.items(), key=lambda item: (HARD_NEGATIVE_KINDS.index(item[1]), item[0]))
        return pl.DataFrame(
            {
                "entity_a": [ids[a] for (a, _), _ in ordered],
                "entity_b": [ids[b] for (_, b), _ in ordered],
                "kind": [kind for _, kind in ordered],
            },
            schema={"entity_a": pl.String, "entity_b": pl.String, "kind": pl.String},
        )


def _records_per_person(people: int, records: int, rng: np.random.Generator) -> np.ndarray:
    """Records per person from ``RECORDS_PER_PERSON``, nudged at random to sum to ``records``."""
    values = np.array([k for k, _ in RECORDS_PER_PERSON])
    p = np.array([p for _, p in RECORDS_PER_PERSON])
    counts = rng.choice(values, size=people, p=p / p.sum()).astype(np.int64)
    excess = int(counts.sum()) - records
    while excess > 0:
        room = np.flatnonzero(counts > 1)
        take = rng.choice(room, size=min(excess, len(room)), replace=False)
        counts[take] -= 1
        excess -= len(take)
    if excess < 0:
        more = rng.choice(people, size=-excess, replace=True)
        np.add.at(counts, more, 1)
    return counts


# ------------------------------------------------------------------------------------------ corruptions
def _neighbours() -> dict[str, str]:
    rows = W.KEYBOARD_ROWS
    near: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            around = [row[c + d] for d in (-1, 1) if 0 <= c + d < len(row)]
            for rr in (r - 1, r + 1):
                if 0 < rr < len(rows) or (rr == 0 and r == 0):  # letters slip onto letters, digits onto digits
                    around += [rows[rr][cc] for cc in (c - 1, c, c + 1) if 0 <= cc < len(rows[rr])]
            near[ch] = "".join(around)
    return near


_NEAR = _neighbours()


def _with_case(new: str, like: str) -> str:
    return new.upper() if like.isupper() else new


def _typo(word: str, rnd: random.Random) -> str:
    """One slip: keyboard neighbour, deletion, insertion, transposition, OCR or by-ear confusion."""
    if len(word) < 2:
        return word
    for _ in range(6):
        roll = rnd.random()
        i = rnd.randrange(len(word))
        ch = word[i]
        out = word
        if roll < 0.30:
            near = _NEAR.get(ch.lower(), "")
            if near and ch.isalnum():
                out = word[:i] + _with_case(rnd.choice(near), ch) + word[i + 1 :]
        elif roll < 0.50:
            if len(word) > 2:
                out = word[:i] + word[i + 1 :]
        elif roll < 0.65:
            extra = ch.lower() if rnd.random() < 0.5 or not _NEAR.get(ch.lower()) else rnd.choice(_NEAR[ch.lower()])
            out = word[: i + 1] + extra + word[i + 1 :]
        elif roll < 0.82:
            if i < len(word) - 1 and word[i] != word[i + 1]:
                out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            swaps = W.OCR_CONFUSIONS if roll < 0.92 else W.PHONETIC_SWAPS
            found = [(a, b) for a, b in swaps if a in word[1:]] + [(b, a) for a, b in swaps if b in word[1:]]
            if found:
                a, b = rnd.choice(found)
                at = word.find(a, 1)
                out = word[:at] + b + word[at + len(a) :]
        if out != word and out.strip():
            return out
    return word


def _typo_in_words(text: str, rnd: random.Random) -> str:
    words = text.split(" ")
    long_enough = [i for i, w in enumerate(words) if len(w) >= 3]
    if not long_enough:
        return _typo(text, rnd)
    i = rnd.choice(long_enough)
    words[i] = _typo(words[i], rnd)
    return " ".join(words)


def _stray(text: str, rnd: random.Random) -> str:
    return rnd.choice((f" {text}", f"{text} ", f"{text}.", f"{text},", f"{text}  ", text.replace(" ", "  ", 1) + " "))


@functools.cache
def _surname_alternatives(name: str) -> tuple[str, ...]:
    """Spellings a surname is recorded under: the variants table plus Mc/Mac, O'/D', particles, doubled letters."""
    world = _world()
    found = list(world.surname_table_variants.get(name, ()))
    if name.startswith("Mc") and len(name) > 2 and name[2].isupper():
        rest = name[2:]
        found += [f"Mac{rest}", f"Mc{rest.lower()}", f"Mc {rest}"]
    elif name.startswith("Mac") and len(name) > 3 and name[3].isupper():
        rest = name[3:]
        found += [f"Mc{rest}", f"Mac{rest.lower()}"]
    for prefix in ("O'", "D'"):
        if name.startswith(prefix) and len(name) > 2:
            rest = name[2:]
            found += [f"{prefix[0]}{rest}", f"{prefix[0]} {rest}", f"{prefix}{rest.lower()}"]
    if " " in name:
        parts = name.split(" ")
        found += ["".join(parts), " ".join([p.lower() for p in parts[:-1]] + parts[-1:])]
    for double in ("ll", "tt", "nn", "ss", "pp", "rr", "ff", "mm"):
        if double in name:
            found.append(name.replace(double, double[0], 1))
            break
    if name.endswith("son") and len(name) > 5:
        found.append(name[:-3] + "sen")
    elif name.endswith("ie") or name.endswith("ey"):
        found.append(name[:-2] + "y")
    return tuple(v for v in _unique(found) if v != name)


def _suburb_variant(name: str, rnd: random.Random) -> str:
    swaps = (("Mount ", "Mt "), ("Mount ", "Mt. "), ("St ", "Saint "), ("St ", "St. "), ("Port ", "Pt "),
             ("North ", "Nth "), ("South ", "Sth "), ("Heights", "Hts"), ("Upper ", "Up. "))  # fmt: skip
    options = [(a, b) for a, b in swaps if name.startswith(a) or name.endswith(a.strip())]
    if not options:
        return name
    a, b = rnd.choice(options)
    return name.replace(a.strip(), b.strip(), 1)


def _valid(y: int, m: int, d: int) -> bool:
    return 1900 <= y <= REFERENCE_DATE.year and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]


def _corrupt_date(y: int, m: int, d: int, event: int, rnd: random.Random) -> tuple[int, int, int]:
    if event == 2:  # one digit
        text = f"{y:04d}{m:02d}{d:02d}"
        for _ in range(8):
            i = rnd.randrange(2, 8)
            old = int(text[i])
            new = (old + rnd.choice((-1, 1))) % 10 if rnd.random() < 0.6 else rnd.randrange(10)
            if new == old:
                continue
            t = text[:i] + str(new) + text[i + 1 :]
            yy, mm, dd = int(t[:4]), int(t[4:6]), int(t[6:])
            if _valid(yy, mm, dd):
                return yy, mm, dd
    elif event == 3 and d <= 12 and d != m:
        return y, d, m
    elif event == 4:
        yy = y + rnd.choice((-1, 1))
        return yy, m, min(d, calendar.monthrange(yy, m)[1])
    elif event == 5:
        yy = y // 100 * 100 + (y % 10) * 10 + (y // 10) % 10
        if yy == y or not _valid(yy, m, d):
            yy = y + rnd.choice((-10, 10))
        if _valid(yy, m, min(d, calendar.monthrange(yy, m)[1])):
            return yy, m, min(d, calendar.monthrange(yy, m)[1])
    elif event == 6:
        return y, 1, 1
    return y, m, d


def _format_date(y: int, m: int, d: int, fmt: int) -> str:
    if fmt == 0:
        return f"{y:04d}{m:02d}{d:02d}"
    if fmt == 1:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if fmt == 2:
        return f"{d:02d}/{m:02d}/{y:04d}"
    if fmt == 3:
        return f"{d}/{m}/{y}"
    if fmt == 4:
        return f"{d}/{m}/{y % 100:02d}"
    if fmt == 5:
        return f"{d:02d}-{m:02d}-{y}"
    if fmt == 6:
        return f"{d} {_MONTHS[m]} {y}"
    return f"{d:02d}-{_MONTHS[m]}-{y}"


def _digits_typo(text: str, rnd: random.Random) -> str:
    for _ in range(6):
        roll = rnd.random()
        i = rnd.randrange(len(text))
        if roll < 0.5:
            out = text[:i] + str(rnd.randrange(10)) + text[i + 1 :]
        elif roll < 0.7 and len(text) > 1:
            out = text[:i] + text[i + 1 :]
        elif roll < 0.85:
            out = text[: i + 1] + text[i] + text[i + 1 :]
        elif i < len(text) - 1:
            out = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        else:
            continue
        if out != text and out[0] != "0":
            return out
    return text


def _shares(rng: np.random.Generator, n: int, shares: dict[str, float]) -> list[int]:
    """Per record: an index into ``shares`` (which sum to 1)."""
    cum = np.cumsum(list(shares.values()))
    out: list[int] = np.searchsorted(cum / cum[-1], rng.random(n), side="right").clip(max=len(shares) - 1).tolist()
    return out


def _pick_codes(rng: np.random.Generator, n: int, p: float, options: int) -> list[int]:
    """Per record: -1 with probability ``1 - p``, else one of ``options`` codes, uniformly."""
    roll = rng.random(n)
    out: list[int] = np.where(roll < p, np.minimum((roll / p * options).astype(np.int64), options - 1), -1).tolist()
    return out


def _write_records(
    pop: _Population, counts: np.ndarray, world: _World, rng: np.random.Generator, rnd: random.Random
) -> tuple[pl.DataFrame, np.ndarray]:
    n = int(counts.sum())
    entity = np.repeat(np.arange(pop.n), counts)[rng.permutation(n)]
    ent = entity.tolist()

    def events(rates: dict[str, float]) -> list[int]:
        # codes 1..k for the events, 0 for the rest
        cum = np.cumsum(list(rates.values()))
        code = np.searchsorted(cum, rng.random(n), side="right") + 1
        out: list[int] = np.where(code > len(rates), 0, code).tolist()
        return out

    g_ev, s_ev, d_ev = events(GIVEN_EVENTS), events(SURNAME_EVENTS), events(DOB_EVENTS)
    d_fmt = _shares(rng, n, DOB_FORMATS)
    a_sel = events(ADDRESS_SELECT)
    num_ev, street_ev, sub_ev, pc_ev, st_ev = (
        events(NUMBER_EVENTS), events(STREET_EVENTS), events(SUBURB_EVENTS), events(POSTCODE_EVENTS),
        events(STATE_EVENTS),
    )  # fmt: skip
    unit_fmt, type_style = _shares(rng, n, UNIT_FORMATS), _shares(rng, n, STREET_TYPE_STYLES)
    suffix_p = np.array([0.0, P_JUNIOR_SUFFIX, P_SENIOR_SUFFIX])[pop.suffix[entity]]
    use_other = (rng.random(n) < P_OTHER_SURNAME_RECORD).tolist()
    move_with_other = (rng.random(n) < P_MOVE_WITH_OTHER_SURNAME).tolist()
    hyphen = _pick_codes(rng, n, P_HYPHEN_SHORTENED, 8)  # -1: kept; else which shortening
    barrel = _pick_codes(rng, n, P_DOUBLE_BARREL_PARTIAL, 4)
    add_suffix = (rng.random(n) < suffix_p).tolist()
    stray_given, stray_surname = (rng.random(n) < P_STRAY).tolist(), (rng.random(n) < P_STRAY).tolist()
    no_address = (rng.random(n) < P_ADDRESS_MISSING).tolist()

    dates = pop.dob.astype("datetime64[D]")
    years = (dates.astype("datetime64[Y]").astype(np.int64) + 1970).tolist()
    months = (dates.astype("datetime64[M]").astype(np.int64) % 12 + 1).tolist()
    days = ((dates - dates.astype("datetime64[M]")).astype(np.int64) + 1).tolist()
    addr = pop.addresses
    a_number, a_unit = addr.number.tolist(), addr.unit.tolist()
    a_street, a_type, a_suburb = addr.street.tolist(), addr.street_type.tolist(), addr.suburb.tolist()
    home, previous, earlier = pop.home.tolist(), pop.previous.tolist(), pop.earlier.tolist()
    given, middle, surname, other = pop.given, pop.middle, pop.surname, pop.other_surname
    alternatives = world.given_alternatives
    streets, types, abbrs = world.streets, world.street_types, world.street_type_abbr
    suburbs, postcodes, sub_state = world.suburbs, world.suburb_postcode, world.suburb_state.tolist()
    states, state_names = world.states, world.state_names

    out_given: list[str | None] = [None] * n
    out_surname: list[str | None] = [None] * n
    out_dob: list[str | None] = [None] * n
    out_number: list[str | None] = [None] * n
    out_street: list[str | None] = [None] * n
    out_suburb: list[str | None] = [None] * n
    out_postcode: list[str | None] = [None] * n
    out_state: list[str | None] = [None] * n

    for i in range(n):
        e = ent[i]
        # ---- surname (and the address a former name goes with)
        sel = a_sel[i]
        sn = surname[e]
        if use_other[i] and (alt := other[e]) is not None:
            sn = alt
            if move_with_other[i]:
                sel = 1
        ev = s_ev[i]
        if barrel[i] >= 0 and "-" in sn:
            left, _, right = sn.partition("-")
            sn = (left, left, right, f"{left} {right}")[barrel[i]]
        if ev == 1:
            sn = _typo(sn, rnd)
        elif ev == 2:
            alts = _surname_alternatives(sn)
            if alts:
                sn = alts[0] if len(alts) == 1 or rnd.random() < 0.5 else rnd.choice(alts)
        s_out: str | None = None if ev == 3 else sn
        # ---- given name
        g = given[e]
        ev = g_ev[i]
        g_out: str | None = g
        if ev == 1:
            g_out = _typo(g, rnd)
        elif ev == 2:
            alts = alternatives.get(g, ())
            if alts:
                g_out = alts[min(int(rnd.random() ** 1.6 * len(alts)), len(alts) - 1)]
        elif ev == 3:
            g_out = g[0] if rnd.random() < 0.7 else f"{g[0]}."
        elif ev == 4:
            g_out = None
        elif ev == 6 and (mid := middle[e]) is not None:
            g_out = f"{g} {mid}"
        elif ev == 7 and (mid := middle[e]) is not None:
            g_out = f"{g} {mid[0]}"
        if (ev == 0 or ev == 5) and hyphen[i] >= 0 and "-" in g:
            left, _, right = g.partition("-")
            options = (left, left, left, left, right, f"{left} {right}", f"{left} {right}", left + right.lower())
            g_out = options[hyphen[i]]
        if add_suffix[i]:
            mark = rnd.choice((" Jr", " Jnr", " II") if pop.suffix[e] == 1 else (" Sr", " Snr"))
            if rnd.random() < 0.6 and s_out is not None:
                s_out += mark
            elif g_out is not None:
                g_out += mark
        if g_out is not None and stray_given[i]:
            g_out = _stray(g_out, rnd)
        if s_out is not None and stray_surname[i]:
            s_out = _stray(s_out, rnd)
        if ev == 5:
            g_out, s_out = s_out, g_out
        out_given[i], out_surname[i] = g_out, s_out
        # ---- date of birth
        ev = d_ev[i]
        if ev != 1:
            y, m, d = years[e], months[e], days[e]
            if ev:
                y, m, d = _corrupt_date(y, m, d, ev, rnd)
            out_dob[i] = _format_date(y, m, d, d_fmt[i])
        # ---- address
        if no_address[i]:
            continue
        a = home[e] if sel == 0 else previous[e] if sel == 1 else earlier[e]
        number = str(a_number[a])
        ev = num_ev[i]
        if ev == 1:
            number = _digits_typo(number, rnd)
        unit = a_unit[a]
        if unit:
            style = unit_fmt[i]
            if style == 0:
                number = f"{unit}/{number}"
            elif style == 1:
                number = f"Unit {unit}/{number}"
            elif style == 2:
                number = f"U{unit}/{number}"
        t = a_type[a]
        style = type_style[i]
        name = streets[a_street[a]]
        street = (
            f"{name} {types[t]}" if style == 0 else f"{name} {abbrs[t][0]}" if style == 1
            else f"{name} {abbrs[t][0]}." if style == 2 else name
        )  # fmt: skip
        ev_street = street_ev[i]
        if ev_street == 1:
            street = _typo_in_words(street, rnd)
        if ev == 3 and ev_street != 2:
            out_street[i] = f"{number} {street}"
        else:
            out_number[i] = None if ev == 2 else number
            out_street[i] = None if ev_street == 2 else street
        sub = a_suburb[a]
        ev = sub_ev[i]
        if ev == 1:
            out_suburb[i] = _typo_in_words(suburbs[sub], rnd)
        elif ev == 2:
            out_suburb[i] = _suburb_variant(suburbs[sub], rnd)
        elif ev == 0:
            out_suburb[i] = suburbs[sub]
        ev = pc_ev[i]
        if ev != 2:
            pc = postcodes[sub]
            if ev == 1:
                k = rnd.randrange(1, 4)
                pc = pc[:k] + str((int(pc[k]) + rnd.choice((1, -1, 2, 5))) % 10) + pc[k + 1 :]
            if pc[0] == "0" and rnd.random() < P_NT_LEADING_ZERO_LOST:
                pc = pc[1:]
            out_postcode[i] = pc
        ev = st_ev[i]
        if ev != 2:
            out_state[i] = state_names[sub_state[sub]] if ev == 1 else states[sub_state[sub]]

    case = _shares(rng, n, {"as_is": 1 - sum(CASE_STYLES.values()), **CASE_STYLES})
    frame = pl.DataFrame(
        {
            "given_name": out_given,
            "surname": out_surname,
            "date_of_birth": out_dob,
            "street_number": out_number,
            "street": out_street,
            "suburb": out_suburb,
            "postcode": out_postcode,
            "state": out_state,
            "_case": case,
        },
        schema={c: pl.String for c in RECORD_COLUMNS[1:]} | {"_case": pl.Int8},
    )
    texts = ["given_name", "surname", "date_of_birth", "street_number", "street", "suburb", "state"]
    frame = frame.with_columns(
        [
            pl.when(pl.col("_case") == 1)
            .then(pl.col(c).str.to_uppercase())
            .when(pl.col("_case") == 2)
            .then(pl.col(c).str.to_lowercase())
            .otherwise(pl.col(c))
            .alias(c)
            for c in texts
        ]
    )
    blank = [pl.when(pl.col(c).str.strip_chars() == "").then(None).otherwise(pl.col(c)).alias(c) for c in texts]
    frame = frame.with_columns(blank)
    return frame.drop("_case"), entity
