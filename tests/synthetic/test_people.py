"""The Western person table: deterministic, shaped like an electoral roll, and hard in the promised ways."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import yaml
from rapidfuzz.distance import Levenshtein

from synthetic.people import RECORD_COLUMNS, PeopleTable, generate_people

SMALL, LARGE = 5_000, 60_000
KINDS = {"household", "twins", "father_son", "same_name", "same_name_dob"}
#: A few nickname families, written here independently of the generator's tables.
NICKNAMES = {
    "robert": {"bob", "rob", "robbie", "bobby"},
    "william": {"bill", "will", "billy", "liam"},
    "elizabeth": {"liz", "beth", "betty", "lizzie", "libby"},
    "james": {"jim", "jimmy", "jamie"},
    "john": {"jack", "johnny", "jon"},
    "michael": {"mike", "mick", "mickey"},
    "david": {"dave", "davey"},
    "peter": {"pete"},
    "margaret": {"peggy", "maggie", "meg", "marg"},
    "katherine": {"kate", "kath", "kathy", "katie", "catherine"},
    "christopher": {"chris"},
    "anthony": {"tony"},
    "andrew": {"andy", "drew"},
    "matthew": {"matt"},
    "stephen": {"steve", "steven"},
    "jennifer": {"jen", "jenny"},
    "susan": {"sue", "suzy"},
    "thomas": {"tom", "tommy"},
    "joshua": {"josh"},
    "daniel": {"dan", "danny"},
}
MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"), start=1)}  # fmt: skip
DATE_SHAPES = (
    ("ymd", re.compile(r"^(\d{4})(\d{2})(\d{2})$")),
    ("ymd", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")),
    ("dmy", re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})$")),
    ("dmy", re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{4})$")),
    ("dmy", re.compile(r"^(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{4})$")),
)


@pytest.fixture(scope="module")
def table() -> PeopleTable:
    return generate_people(SMALL, seed=3)


@pytest.fixture(scope="module")
def large() -> PeopleTable:
    """Big enough for the rarer look-alikes (namesakes in one postcode grow with the square of the size)."""
    return generate_people(LARGE, seed=3)


# ------------------------------------------------------------------------------------------ helpers
def _parse_dob(text: str | None) -> tuple[int, int, int] | None:
    """(year, month, day), day-first where ambiguous; two-digit years stay two-digit."""
    if text is None:
        return None
    for order, shape in DATE_SHAPES:
        match = shape.match(text.strip())
        if match:
            a, b, c = match.groups()
            if order == "ymd":
                return int(a), int(b), int(c)
            month = MONTHS.get(b.lower()) if b.isalpha() else int(b)
            if month is None or not (1 <= month <= 12 and 1 <= int(a) <= 31):
                return None
            return int(c), month, int(a)
    return None


def _shape(text: str) -> str:
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "9", text))


def _with_entity(t: PeopleTable) -> pl.DataFrame:
    return t.records.join(t.truth, on="id").with_columns(
        pl.col("date_of_birth").map_elements(lambda s: str(_parse_dob(s)), return_dtype=pl.String).alias("dob"),
        pl.col("given_name").str.to_lowercase().str.strip_chars(" .,").alias("given"),
        pl.col("surname").str.to_lowercase().str.strip_chars(" .,").alias("family"),
    )


def _duplicate_pairs(t: PeopleTable) -> pl.DataFrame:
    """Every pair of records of one person, with ``_r`` columns for the right-hand record."""
    rows = _with_entity(t)
    return rows.join(rows, on="entity_id", suffix="_r").filter(pl.col("id") < pl.col("id_r"))


def _look_alike_pairs(t: PeopleTable, kind: str) -> pl.DataFrame:
    """Every record pair behind the hard-negative pairs of one kind."""
    rows = _with_entity(t)
    left = rows.rename({c: f"{c}_a" for c in rows.columns})
    right = rows.rename({c: f"{c}_b" for c in rows.columns})
    return (
        t.hard_negatives.filter(pl.col("kind") == kind)
        .join(left, left_on="entity_a", right_on="entity_id_a")
        .join(right, left_on="entity_b", right_on="entity_id_b")
    )


def _share_of_pairs(pairs: pl.DataFrame, condition: pl.Expr, of: pl.DataFrame) -> float:
    """Share of the hard-negative pairs in ``of`` that have at least one record pair meeting ``condition``."""
    met = pairs.filter(condition).select("entity_a", "entity_b").unique().height
    return met / of.height


# ------------------------------------------------------------------------------------------ determinism and shape
def test_same_seed_gives_equal_frames() -> None:
    first, again = generate_people(2_000, seed=5), generate_people(2_000, seed=5)
    assert first.records.equals(again.records)
    assert first.truth.equals(again.truth)
    assert first.hard_negatives.equals(again.hard_negatives)


def test_other_seed_gives_other_people() -> None:
    first, other = generate_people(2_000, seed=5), generate_people(2_000, seed=6)
    assert not first.records.equals(other.records)
    assert first.truth.get_column("entity_id").to_list() != other.truth.get_column("entity_id").to_list()


@pytest.mark.parametrize("records", [1, 2, 7, 999])
def test_exactly_the_records_asked_for(records: int) -> None:
    t = generate_people(records, seed=2)
    assert t.records.height == records == t.truth.height


def test_no_records_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_people(0)


def test_schema_is_all_text_with_unique_ids_and_full_truth(table: PeopleTable) -> None:
    assert tuple(table.records.columns) == RECORD_COLUMNS
    assert table.truth.columns == ["id", "entity_id"]
    assert table.hard_negatives.columns == ["entity_a", "entity_b", "kind"]
    for frame in (table.records, table.truth, table.hard_negatives):
        assert all(dtype == pl.String for dtype in frame.dtypes), frame.schema
    ids = table.records.get_column("id")
    assert ids.n_unique() == ids.len() and ids.str.starts_with("rec-").all()
    assert table.truth.get_column("id").to_list() == ids.to_list()
    assert table.truth.get_column("entity_id").null_count() == 0
    blank = table.records.select(pl.any_horizontal(pl.all().str.strip_chars() == "").sum()).item()
    assert blank == 0, "empty values must be null"


def test_records_per_person_and_duplicate_pairs(table: PeopleTable) -> None:
    per_person = table.truth.group_by("entity_id").len().get_column("len")
    assert 0.48 <= (per_person == 1).mean() <= 0.62
    assert 0.24 <= (per_person == 2).mean() <= 0.36
    assert (per_person >= 4).mean() <= 0.10
    pairs = int((per_person * (per_person - 1) // 2).sum())
    assert pairs >= 0.4 * table.records.height


def test_surnames_are_skewed_like_a_real_population(table: PeopleTable) -> None:
    surnames = table.records.get_column("surname").drop_nulls().str.to_lowercase().value_counts(sort=True)
    assert surnames.row(0)[0] == "smith"
    assert surnames.height >= 1_500, "a long tail of rare surnames"
    given = table.records.get_column("given_name").drop_nulls().str.to_lowercase().n_unique()
    assert given >= 500


# ------------------------------------------------------------------------------------------ corruptions
def test_dates_of_birth_come_in_mixed_day_first_formats(table: PeopleTable) -> None:
    dobs = table.records.get_column("date_of_birth")
    assert 0.01 <= dobs.null_count() / dobs.len() <= 0.06
    values = dobs.drop_nulls().to_list()
    unparsed = [v for v in values if _parse_dob(v) is None]
    assert not unparsed, unparsed[:5]
    shapes = {_shape(v) for v in values}
    assert {"99999999", "9999-99-99", "99/99/9999", "9/9/99", "9 aaa 9999"} <= shapes, shapes


def test_duplicates_carry_nicknames(table: PeopleTable) -> None:
    pairs = _duplicate_pairs(table).select("given", "given_r")
    nick = sum(1 for a, b in pairs.iter_rows() if a and b and (b in NICKNAMES.get(a, ()) or a in NICKNAMES.get(b, ())))
    assert nick >= 5


def test_duplicates_carry_initials_typos_and_swapped_names(table: PeopleTable) -> None:
    pairs = _duplicate_pairs(table)
    initials = pairs.filter(
        (pl.col("given").str.len_chars() == 1) & (pl.col("given_r").str.slice(0, 1) == pl.col("given"))
        & (pl.col("given_r").str.len_chars() > 2)
    )  # fmt: skip
    assert initials.height >= 5
    rows = pairs.select("family", "family_r").drop_nulls().iter_rows()
    one_edit = sum(1 for a, b in rows if a != b and Levenshtein.distance(a, b) == 1)
    assert one_edit >= 5
    swapped = pairs.filter((pl.col("given") == pl.col("family_r")) & (pl.col("family") == pl.col("given_r")))
    assert swapped.height >= 1


SPELLINGS = (
    {"smith", "smyth"}, {"thomson", "thompson"}, {"clark", "clarke"}, {"gray", "grey"}, {"reid", "reed"},
    {"stewart", "stuart"}, {"phillips", "philips"}, {"matthews", "mathews"}, {"brown", "browne"},
    {"green", "greene"}, {"davis", "davies"}, {"johnston", "johnson"}, {"anderson", "andersen"},
)  # fmt: skip


def _is_spelling_variant(a: str, b: str) -> bool:
    if {a, b} in SPELLINGS:
        return True
    for short, long in (("mc", "mac"), ("o'", "o"), ("o'", "o ")):
        for x, y in ((a, b), (b, a)):
            if x.startswith(short) and y.startswith(long) and x[len(short) :] == y[len(long) :]:
                return True
    return False


def test_duplicates_carry_surname_spelling_variants(table: PeopleTable) -> None:
    pairs = _duplicate_pairs(table).select("family", "family_r").drop_nulls()
    variants = sum(1 for a, b in pairs.iter_rows() if a != b and _is_spelling_variant(a, b))
    assert variants >= 3, "Smith/Smyth, McDonald/MacDonald, O'Brien/OBrien"


def test_duplicates_swap_day_and_month(table: PeopleTable) -> None:
    pairs = _duplicate_pairs(table).select("date_of_birth", "date_of_birth_r").drop_nulls()
    swaps = 0
    for a, b in pairs.iter_rows():
        pa, pb = _parse_dob(a), _parse_dob(b)
        if pa and pb and pa[0] % 100 == pb[0] % 100 and pa[1] == pb[2] and pa[2] == pb[1] and pa[1] != pa[2]:
            swaps += 1
    assert swaps >= 3


def test_a_share_of_duplicates_moved_house(table: PeopleTable) -> None:
    pairs = _duplicate_pairs(table).filter(
        pl.all_horizontal(pl.col("street", "street_r", "postcode", "postcode_r").is_not_null())
    )
    moved = pairs.filter(
        (pl.col("street").str.to_lowercase().str.split(" ").list.first()
         != pl.col("street_r").str.to_lowercase().str.split(" ").list.first())
        & (pl.col("postcode") != pl.col("postcode_r"))
    )  # fmt: skip
    assert 0.10 <= moved.height / pairs.height <= 0.45


def test_addresses_have_units_and_abbreviated_street_types(table: PeopleTable) -> None:
    numbers = table.records.get_column("street_number").drop_nulls()
    assert numbers.str.contains("/").sum() >= 100
    streets = table.records.get_column("street").drop_nulls().str.to_lowercase()
    assert streets.str.ends_with(" st").sum() >= 100 and streets.str.ends_with(" street").sum() >= 100


# ------------------------------------------------------------------------------------------ hard negatives
def test_every_kind_of_look_alike_is_listed_and_they_are_different_people(large: PeopleTable) -> None:
    hard = large.hard_negatives
    assert set(hard.get_column("kind").unique().to_list()) == KINDS
    assert (hard.get_column("entity_a") < hard.get_column("entity_b")).all()
    assert hard.select("entity_a", "entity_b").is_unique().all()
    people = set(large.truth.get_column("entity_id").to_list())
    assert set(hard.get_column("entity_a").to_list()) <= people
    assert set(hard.get_column("entity_b").to_list()) <= people
    counts = dict(hard.group_by("kind").len().iter_rows())
    entities = len(people)
    assert counts["household"] >= 0.05 * entities, counts
    assert counts["father_son"] >= 0.002 * entities and counts["twins"] >= 0.0005 * entities, counts


def _of_kind(t: PeopleTable, kind: str) -> pl.DataFrame:
    return t.hard_negatives.filter(pl.col("kind") == kind)


SAME_GIVEN = pl.col("given_a") == pl.col("given_b")
SAME_FAMILY = pl.col("family_a") == pl.col("family_b")
SAME_DOB = (pl.col("dob_a") == pl.col("dob_b")) & (pl.col("dob_a") != "None")
SAME_POSTCODE = pl.col("postcode_a") == pl.col("postcode_b")
# Every record is noisy (typos, nicknames, moves, missing fields), so these ask for *some* record pair of the two
# people to show the relation, for most pairs: a person with one mangled record cannot show it.


def test_look_alikes_are_never_the_same_person_in_disguise(large: PeopleTable) -> None:
    for kind in ("household", "twins", "father_son", "same_name"):
        pairs = _look_alike_pairs(large, kind)
        assert _share_of_pairs(pairs, SAME_GIVEN & SAME_FAMILY & SAME_DOB, _of_kind(large, kind)) < 0.02, kind


def test_household_members_share_surname_and_address(large: PeopleTable) -> None:
    pairs = _look_alike_pairs(large, "household")
    street = pl.col("street_a").str.to_lowercase().str.split(" ").list.first()
    home = SAME_POSTCODE | (street == pl.col("street_b").str.to_lowercase().str.split(" ").list.first())
    assert _share_of_pairs(pairs, SAME_FAMILY & home, _of_kind(large, "household")) >= 0.65


def test_twins_share_a_birthday_and_home(large: PeopleTable) -> None:
    pairs = _look_alike_pairs(large, "twins")
    assert _share_of_pairs(pairs, SAME_DOB, _of_kind(large, "twins")) >= 0.8
    assert _share_of_pairs(pairs, SAME_DOB & SAME_FAMILY & SAME_POSTCODE, _of_kind(large, "twins")) >= 0.6


def test_fathers_and_sons_share_a_name_a_generation_apart(large: PeopleTable) -> None:
    pairs = _look_alike_pairs(large, "father_son")
    year = r"\((\d{4}),"
    gap = (pl.col("dob_a").str.extract(year).cast(pl.Int32) - pl.col("dob_b").str.extract(year).cast(pl.Int32)).abs()
    assert _share_of_pairs(pairs, gap.is_between(24, 36), _of_kind(large, "father_son")) >= 0.8
    assert _share_of_pairs(pairs, SAME_GIVEN & SAME_FAMILY, _of_kind(large, "father_son")) >= 0.6
    names = pl.concat([large.records.get_column("given_name"), large.records.get_column("surname")]).drop_nulls()
    assert names.str.contains(r"(?i) (jr|jnr|ii|sr|snr)$").sum() >= 5


def test_namesakes_born_the_same_day_live_apart(large: PeopleTable) -> None:
    pairs = _look_alike_pairs(large, "same_name_dob")
    condition = SAME_GIVEN & SAME_FAMILY & SAME_DOB & ~SAME_POSTCODE
    assert _share_of_pairs(pairs, condition, _of_kind(large, "same_name_dob")) >= 0.6


def test_namesakes_in_one_postcode_share_it(large: PeopleTable) -> None:
    pairs = _look_alike_pairs(large, "same_name")
    assert _share_of_pairs(pairs, SAME_GIVEN & SAME_FAMILY, _of_kind(large, "same_name")) >= 0.6
    assert _share_of_pairs(pairs, SAME_POSTCODE, _of_kind(large, "same_name")) >= 0.6


# ------------------------------------------------------------------------------------------ files
def test_write_gives_the_files_and_a_dedupe_config(tmp_path: Path) -> None:
    t = generate_people(300, seed=9)
    paths = t.write(tmp_path / "out")
    assert set(paths) == {"people", "truth", "hard_negatives", "config"}
    assert all(p.exists() and p.parent == tmp_path / "out" for p in paths.values())
    people = pl.read_csv(paths["people"], infer_schema=False)
    assert people.equals(t.records)
    assert pl.read_csv(paths["truth"], infer_schema=False).equals(t.truth)
    assert pl.read_csv(paths["hard_negatives"], infer_schema=False).equals(t.hard_negatives)
    config = yaml.safe_load(paths["config"].read_text("utf-8"))
    assert config["columns"] == {
        "given_name": "first_name",
        "surname": "last_name",
        "date_of_birth": "birth_date",
        "street": "street",
        "suburb": "city",
        "postcode": "postcode",
    }
    assert set(config["columns"]) <= set(people.columns)
    assert (config["id_column"], config["region"], config["date_order"]) == ("id", "AU", "dmy")
