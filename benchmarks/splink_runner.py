"""Splink 5 (DuckDB) side of the benchmark, configured as Splink's documentation and demos recommend.

Runs inside a worker process (see ``match.py``). Two configurations, by the kind of table:

- ``person`` (a plain table of people, no phone or e-mail; Febrl and ``synthetic.people``): the Febrl demos
  (``docs/demos/examples/duckdb/febrl3``, ``febrl4``) and the 50k-synthetic demo (``deduplicate_50k_synthetic``) on
  a lightly standardised copy of the table (``standardise_people``);
- ``crm`` (the validated records of a CRM hand-over, with crmkit's normalised values and keys): the comparison
  library's person comparisons on the same columns crmkit matches on.

Training follows the training guide (``docs/topic_guides/training/training_rationale.md``): the prior from
deterministic rules with a recall guess, u by random sampling (``max_pairs`` 1e7: "often adequate", the docs'
figure), m by EM sessions whose blocking rules together leave every comparison trained at least once, without term
frequencies (as every demo does), each capped at ``max_pairs`` 1e7 (the model-training guide's runtime control).
Blocking follows the blocking guide ("a longer list of tight rules"; loosen while
``count_comparisons_from_blocking_rules`` says it stays tractable): the strict rules always, each loose
single-column rule of the demos only when its estimated count is at most ``LOOSE_RULE_MAX_PAIRS``. Then
``predict()`` over every blocked pair (as the 50k and pseudopeople demos) and
``cluster_pairwise_predictions_at_threshold``. Everything from standardising to clustering is timed.
"""

from __future__ import annotations

import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["DEFAULT_THRESHOLD", "crm_model", "person_model", "run", "standardise_people"]

#: Splink's docs recommend no single threshold (the demos cluster at 0.95 and 0.99 and predict from 0.2);
#: 0.9 is the label-free default of this benchmark, the grid shows the others.
DEFAULT_THRESHOLD = 0.9

#: Date formats tried in order (each only on strings of its shape); an unparseable date becomes null.
DATE_FORMATS = (
    ("%Y%m%d", r"^\d{8}$"),
    ("%Y-%m-%d", r"^\d{4}-\d{1,2}-\d{1,2}$"),
    ("%d/%m/%Y", r"^\d{1,2}/\d{1,2}/\d{4}$"),
    ("%d/%m/%y", r"^\d{1,2}/\d{1,2}/\d{2}$"),
    ("%d %b %Y", r"^\d{1,2} [A-Za-z]{3} \d{4}$"),
    # two more shapes profiling synthetic.people shows (3% of its dates each)
    ("%d-%m-%Y", r"^\d{1,2}-\d{1,2}-\d{4}$"),
    ("%d-%b-%Y", r"^\d{1,2}-[A-Za-z]{3}-\d{4}$"),
)

#: crmkit dedupe field -> the standardised column Splink compares.
ROLE_COLUMN = {
    "first_name": "given_name",
    "last_name": "surname",
    "full_name": "full_name",
    "birth_date": "date_of_birth",
    "street": "street",
    "address": "street",
    "city": "city",
    "postcode": "postcode",
    "phone": "phone",
    "email": "email",
    "company": "company",
    "gender": "gender",
}
#: Columns the demos compare or block on that crmkit's dedupe config has no field for; used when present.
EXTRA_COLUMNS = ("street_number", "state")
#: A loose (single-column) blocking rule is used when its estimated comparison count is at most this.
LOOSE_RULE_MAX_PAIRS = 5e6
UK_POSTCODE = r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"


# --------------------------------------------------------------------------------------------- person kind


def _iso_date(col: str) -> pl.Expr:
    value = pl.col(col).cast(pl.String).str.strip_chars()
    parsed = pl.coalesce(
        pl.when(value.str.contains(shape)).then(value.str.strptime(pl.Date, fmt, strict=False))
        for fmt, shape in DATE_FORMATS
    )
    # a two-digit year read as the future is last century's (a birth date cannot be in the future)
    parsed = pl.when(parsed > pl.lit(date.today())).then(parsed.dt.offset_by("-100y")).otherwise(parsed)
    return parsed.dt.strftime("%Y-%m-%d")


def _text(col: str, *, lower: bool = True) -> pl.Expr:
    value = pl.col(col).cast(pl.String).str.strip_chars().str.replace_all(r"\s+", " ")
    value = value.str.to_lowercase() if lower else value.str.to_uppercase()
    return pl.when(value == "").then(None).otherwise(value)


def standardise_people(table: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
    """The preparation a careful Splink user does before matching a table of people.

    Columns are renamed by their role (``columns``: input column -> crmkit field, from the set's dedupe config);
    text is trimmed, inner whitespace collapsed, lower-cased (postcodes upper-cased), empty strings become null;
    dates are parsed with the formats of ``DATE_FORMATS`` to ISO ``YYYY-MM-DD`` (else null). ``street_number`` is
    kept when the table has it. Adds ``_rid`` (row number).
    """
    exprs: list[pl.Expr] = []
    by_role: dict[str, list[str]] = {}
    # a column the demos compare on its own (street_number) stays its own column, whatever crmkit's config joins it to
    columns = {col: role for col, role in columns.items() if col not in EXTRA_COLUMNS}
    for col, role in columns.items():
        by_role.setdefault(role, []).append(col)
    for role, cols in by_role.items():
        target = ROLE_COLUMN[role]
        if role == "birth_date":
            exprs.append(_iso_date(cols[0]).alias(target))
        elif role == "postcode":
            exprs.append(_text(cols[0], lower=False).alias(target))
        else:  # several columns of one role (two address lines) are joined, as crmkit joins them
            parts = [_text(c) for c in cols]
            exprs.append(
                (parts[0] if len(parts) == 1 else pl.concat_str(parts, separator=" ", ignore_nulls=True)).alias(target)
            )
    for col in EXTRA_COLUMNS:
        if col in table.columns:
            exprs.append(_text(col).alias(col))
    out = table.select(exprs)
    return out.with_columns(pl.Series("_rid", range(table.height), dtype=pl.Int64)).select("_rid", *out.columns)


def person_model(df: pl.DataFrame) -> dict[str, Any]:
    """Settings and training plan for a standardised people table (columns as ``standardise_people`` names them)."""
    import splink.comparison_library as cl
    from splink import block_on

    has = set(df.columns)
    comparisons: list[Any] = []
    notes: list[str] = []
    if {"given_name", "surname"} <= has:  # febrl4 demo (detailed model)
        comparisons += [
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
        ]
    elif "full_name" in has:
        comparisons.append(cl.NameComparison("full_name").configure(term_frequency_adjustments=True))
    if "date_of_birth" in has:  # febrl3/febrl4 demos; ISO strings after standardising
        comparisons.append(cl.DateOfBirthComparison("date_of_birth", input_is_string=True))
    if "street_number" in has:  # febrl3/febrl4 demos
        comparisons.append(cl.ExactMatch("street_number").configure(term_frequency_adjustments=True))
    if "postcode" in has:
        values = df["postcode"].drop_nulls()
        uk = values.len() > 0 and float(values.str.contains(UK_POSTCODE).mean()) > 0.5
        if uk:  # feature-engineering guide: the postcode comparison for UK postcodes (sector, district, area)
            comparisons.append(cl.PostcodeComparison("postcode"))
            notes.append("postcode: PostcodeComparison (UK-shaped postcodes)")
        else:  # febrl4 demo, for numeric (Australian) postcodes the UK regexes of PostcodeComparison cannot read
            comparisons.append(
                cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(term_frequency_adjustments=True)
            )
            notes.append("postcode: DamerauLevenshteinAtThresholds([1, 2]) + tf (not UK-shaped)")
    # No street or suburb comparison, as the febrl4 demo says: "we don't consider further location columns as they
    # will be strongly correlated with postcode" (Fellegi-Sunter counts each agreeing column as independent
    # evidence: people sharing a home would get it four times). Both are still used for blocking.
    if "email" in has:
        comparisons.append(cl.EmailComparison("email"))
    if "phone" in has:
        comparisons.append(cl.ExactMatch("phone").configure(term_frequency_adjustments=True))
    if "gender" in has:
        comparisons.append(cl.ExactMatch("gender"))

    def rule(*cols: str) -> Any | None:
        names = {c.split("(")[-1].split(",")[0] for c in cols}
        return block_on(*cols) if names <= has else None

    swapped = "l.given_name = r.surname and l.surname = r.given_name"
    names = {"given_name", "surname"} <= has
    strict = [
        # the 50k demo's list of strict rules (the blocking guide: "a longer list of tighter rules" as data grows)
        rule("substr(given_name,1,3)", "substr(surname,1,4)"),
        rule("surname", "date_of_birth"),
        rule("given_name", "date_of_birth"),
        rule("postcode", "given_name"),
        rule("postcode", "surname"),
        rule("substr(postcode,1,3)", "date_of_birth"),
        rule("substr(given_name,1,2)", "substr(surname,1,2)", "substr(date_of_birth,1,4)"),
        # the Febrl demos' swapped names and street rules
        swapped if names else None,
        rule("street_number", "street"),
        rule("email"),
        rule("phone"),
    ]
    # the Febrl demos' single-column rules: kept when the table is small enough (see ``select_loose_rules``)
    loose = [rule("given_name"), rule("surname"), rule("date_of_birth"), rule("postcode"), rule("state", "street")]
    swapped_dob = f"{swapped} and l.date_of_birth = r.date_of_birth"
    deterministic = [  # febrl3/febrl4 demos without soc_sec_id, plus the 50k demo's dob + postcode
        rule("given_name", "surname", "date_of_birth"),
        swapped_dob if names and "date_of_birth" in has else None,
        rule("date_of_birth", "postcode"),
        rule("email"),
    ]
    em = [r for r in (rule("given_name", "surname"), rule("date_of_birth"), rule("postcode")) if r is not None][:2]
    return {
        "comparisons": comparisons,
        "blocking": [r for r in strict if r is not None],
        "loose": [r for r in loose if r is not None],
        "deterministic": [r for r in deterministic if r is not None],
        "recall": 0.7,
        "em": em,
        "notes": notes,
    }


# --------------------------------------------------------------------------------------------- crm kind


def crm_model(df: pl.DataFrame) -> dict[str, Any]:
    """Settings and training plan for the validated records of a crm set (crmkit's normalised columns).

    The comparisons are the comparison library's (or custom ones built from its levels) on crmkit's normalised
    columns. The training plan is the training guide's, with the fixes its diagnostics call for (see the
    README's Splink section): EM sessions blocked on pairs of strong identifiers, so that the blocked pairs are
    mostly one person's records and EM's latent class is "same person" (not "same organisation"), and the m
    probabilities of gender fixed where EM drives "different" to ~0.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import block_on

    # The name: exact on the written name, exact on crmkit's name key (张伟 = 張偉 = Zhang Wei), then
    # NameComparison's Jaro-Winkler thresholds on the pinyin reading.
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("full_name"),
            cll.ExactMatchLevel("full_name", term_frequency_adjustments=True),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("name_pinyin", 0.92),
            cll.JaroWinklerLevel("name_pinyin", 0.88),
            cll.JaroWinklerLevel("name_pinyin", 0.7),
            cll.ElseLevel(),
        ],
    )
    # Exact on the primary number with term-frequency adjustment (the term-frequency guide: a value many records
    # share, a switchboard, weighs less), then ArrayIntersectLevel on the national parts of the whole list (Splink
    # cannot tf-adjust an array level). One array level, not two (full numbers, then national parts): on handover
    # at 100k u sampling never saw the second ("u values not fully trained"), Splink fell back to its default u
    # 0.033 and a shared number counted as evidence against a match (-4.8 bits in the first configuration).
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.CustomLevel("phones_l IS NULL OR phones_r IS NULL OR len(phones_l) = 0 OR len(phones_r) = 0").configure(
                is_null_level=True
            ),
            cll.ExactMatchLevel("phone", term_frequency_adjustments=True),
            cll.ArrayIntersectLevel("phone_national", 1).configure(label_for_charts="a number in common"),
            cll.ElseLevel(),
        ],
    )
    # EmailComparison's levels (exact, username, Jaro-Winkler 0.88 on each), with the term-frequency adjustment on
    # the username level too (the term-frequency guide, "comparison level library functions"): a role username
    # (sales@, info@, kefu@: the most frequent values when profiling) that many companies use weighs less than a
    # personal one. The username is crmkit's email_local.
    email = cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email", term_frequency_adjustments=True),
            cll.ExactMatchLevel("email_local", term_frequency_adjustments=True),
            cll.JaroWinklerLevel("email", 0.88),
            cll.JaroWinklerLevel("email_local", 0.88),
            cll.ElseLevel(),
        ],
    )
    # Gender: EM cannot estimate the m of "different" here (no session sees one: it went to ~1e-16, a veto of
    # -50 bits); fixed, as the training guide allows for a level EM cannot estimate: a gender mis-keyed in about
    # one record in 200 makes about 1 pair in 100 of one person's records disagree.
    gender = cl.CustomComparison(
        output_column_name="gender",
        comparison_levels=[
            cll.NullLevel("gender"),
            cll.ExactMatchLevel("gender").configure(m_probability=0.99, fix_m_probability=True),
            cll.ElseLevel().configure(m_probability=0.01, fix_m_probability=True),
        ],
    )
    # Company and address in one comparison: in a B2B CRM the address is mostly the company's (profiling, no
    # labels, handover at 100k: 80% of the pairs with the same company have the same address, against 0.07% of
    # random pairs; sample: 78% of the pairs with the same address have the same company), and Splink "performs
    # best with input data containing multiple columns that are not highly correlated" (docs/index.md; the febrl4
    # demo leaves out location columns "strongly correlated with postcode"; the out-of-the-box comparisons guide
    # puts correlated forename and surname in one comparison). As two comparisons, colleagues got the evidence
    # twice. The company is compared on the pinyin reading of crmkit's key (昌新汽车配件 and "Changxin Auto Parts"
    # are both changxinqichepeijian), Jaro-Winkler at the library's 0.9.
    company, address = "company_key_pinyin", "address"
    organisation = cl.CustomComparison(
        output_column_name="organisation",
        comparison_levels=[
            cll.CustomLevel(
                f"({company}_l IS NULL OR {company}_r IS NULL) AND ({address}_l IS NULL OR {address}_r IS NULL)",
                label_for_charts="company and address missing",
            ).configure(is_null_level=True),
            cll.And(cll.ExactMatchLevel(company), cll.ExactMatchLevel(address)).configure(
                label_for_charts="same company and address"
            ),
            cll.ExactMatchLevel(company, term_frequency_adjustments=True),
            cll.ExactMatchLevel(address, term_frequency_adjustments=True),
            cll.Or(cll.JaroWinklerLevel(company, 0.9), cll.JaroWinklerLevel(address, 0.9)).configure(
                label_for_charts="company or address Jaro-Winkler >= 0.9"
            ),
            cll.ElseLevel(),
        ],
    )
    return {
        "comparisons": [
            name,
            phone,
            email,
            organisation,
            # no city comparison: city_key is read from the address when there is one (the febrl4 demo's advice
            # against location columns correlated with one already compared); it is used for blocking
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            gender,
        ],
        "blocking": [
            block_on("phones", arrays_to_explode=["phones"]),
            block_on("phone_national", arrays_to_explode=["phone_national"]),
            block_on("email"),
            block_on("name_key", "company_key"),
            block_on("name_key", "birth_date"),
            block_on("name_key", "city_key"),
        ],
        "loose": [block_on("name_key"), block_on("email_local")],
        # deterministic rules that "represent true matches": a name with a strong identifier
        "deterministic": [
            block_on("name_key", "phone"),
            block_on("name_key", "email"),
            block_on("name_key", "birth_date"),
        ],
        "recall": 0.7,
        # The round robin with training rules that combine strong identifiers (each pair of name, phone and
        # e-mail), so that the blocked pairs are mostly the same person: blocked on e-mail alone (role mailboxes
        # shared by colleagues) EM learned "same organisation" (m(names entirely different) = 0.71).
        "em": [
            block_on("name_key", "phone"),
            block_on("name_key", "email"),
            block_on("phone", "email"),
        ],
        "notes": [],
    }


def select_loose_rules(sdf: Any, loose: list[Any], budget: float) -> tuple[list[Any], list[str]]:
    """The loose rules whose estimated comparison count is within ``budget``, as the blocking guide does it
    ("start strict, loosen while ``count_comparisons_from_blocking_rules`` says it stays tractable")."""
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    kept, notes = [], []
    for r in loose:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # small samples warn that the estimate is rough; rough is enough
            (record,) = count_comparisons_from_blocking_rules(
                sdf, blocking_rules=[r], link_type="dedupe_only", unique_id_column_name="_rid"
            )
        n = int(record["marginal_comparison_count"])
        ok = n <= budget
        kept += [r] if ok else []
        notes.append(f"{record['blocking_rule']}: ~{n:,} pairs, {'kept' if ok else 'left out'}")
    return kept, notes


# --------------------------------------------------------------------------------------------- run


def run(
    kind: str,
    folder: Path,
    out: Path,
    grid: tuple[float, ...],
    peak: Any,
    *,
    u_pairs: float = 1e7,
    em_pairs: float | None = 1e7,
    loose_budget: float = LOOSE_RULE_MAX_PAIRS,
) -> dict[str, object]:
    """Train, predict and cluster with Splink; write ``default.parquet`` and ``grid_<t>.parquet`` into ``out``."""
    import json

    import duckdb
    import splink
    from metrics import components
    from splink import DuckDBAPI, Linker, SettingsCreator

    if kind == "crm":
        raw = pl.read_parquet(folder / "splink.parquet")
        if "phone" not in raw.columns:  # prepared before the primary phone joined the Splink columns
            phone = pl.read_parquet(folder / "records.parquet", columns=["_rid", "phone"])
            raw = raw.join(phone, on="_rid", how="left")
    else:
        raw = pl.read_parquet(folder / "table.parquet")
        columns = json.loads((folder / "dedupe.json").read_text(encoding="utf-8"))["columns"]
    t = time.perf_counter()
    frame = raw if kind == "crm" else standardise_people(raw, columns)
    plan = crm_model(frame) if kind == "crm" else person_model(frame)
    con = duckdb.connect()
    db = DuckDBAPI(connection=con)
    sdf = db.register(frame.to_arrow(), table_name="records")
    loose, loose_notes = select_loose_rules(sdf, plan["loose"], loose_budget)
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="_rid",
        comparisons=plan["comparisons"],
        blocking_rules_to_generate_predictions=[*plan["blocking"], *loose],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(sdf, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(plan["deterministic"], recall=plan["recall"])
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=1)
    em_notes = []
    for rule in plan["em"]:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, estimate_without_term_frequencies=True, max_pairs=em_pairs
            )
        except ValueError as exc:  # e.g. an m probability that underflows to 0.0; the session is skipped
            em_notes.append(f"EM session {rule.get_blocking_rule('duckdb').blocking_rule_sql} failed: {exc}")
    predictions = linker.inference.predict()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, DEFAULT_THRESHOLD)
    labelled = pl.from_arrow(clusters.as_duckdbpyrelation().select("_rid, cluster_id").arrow())
    seconds = time.perf_counter() - t
    peak_rss = peak()
    assert isinstance(labelled, pl.DataFrame)
    labelled.with_columns(pl.col("_rid").min().over("cluster_id").alias("cluster")).select(
        pl.col("_rid").cast(pl.Int64), pl.col("cluster").cast(pl.Int64)
    ).write_parquet(out / "default.parquet")

    # blocking recall: every blocked pair is in predict() (no threshold); count the true ones inside DuckDB
    truth = pl.read_parquet(folder / "truth.parquet")
    con.register("bench_truth", truth.to_arrow())
    total, true_found = con.sql(
        f"""select count(*), coalesce(sum(case when tl.entity_id = tr.entity_id then 1 else 0 end), 0)
            from {predictions.physical_name} p
            join bench_truth tl on p._rid_l = tl._rid
            join bench_truth tr on p._rid_r = tr._rid"""
    ).fetchall()[0]
    if grid:
        pairs = pl.from_arrow(
            predictions.as_duckdbpyrelation()
            .filter(f"match_probability >= {min(grid)}")
            .select("_rid_l, _rid_r, match_probability")
            .arrow()
        )
        assert isinstance(pairs, pl.DataFrame)
        rids = frame["_rid"].to_numpy()
        for th in grid:
            e = pairs.filter(pl.col("match_probability") >= th)
            components(rids, e["_rid_l"].to_numpy(), e["_rid_r"].to_numpy()).write_parquet(out / f"grid_{th}.parquet")
    (out / "model.json").write_text(json.dumps(linker.misc.save_model_to_json(), default=str), encoding="utf-8")
    return {
        "seconds": seconds,
        "peak_rss": peak_rss,
        "threshold": DEFAULT_THRESHOLD,
        "candidates": int(total),
        "true_candidates": int(true_found),
        "version": splink.__version__,
        "notes": [*plan["notes"], *loose_notes, *em_notes],
        "prior": linker._settings_obj._probability_two_random_records_match,
    }
