"""Prepared records: the normalised columns plus the derived keys that blocking and comparisons read.

:func:`prepare_records` never replaces a column the input has (except filling a missing name from the company
field, see below) and adds, when their inputs exist:

==================  ==========================================================================================
column              meaning
==================  ==========================================================================================
``_fname``          full name, case-folded, punctuation collapsed (the ``exact`` name level)
``_fam``            family-name key: the first word of ``name_pinyin`` (tone-less pinyin or folded ASCII)
``_giv``            first given word of ``name_pinyin``, nicknames resolved (``bob`` → ``robert``)
``_giv_raw``        the same word as written (initials such as ``j`` stay one letter)
``_gen``            a generational suffix of the name: ``jr`` (Jr, Jnr, II), ``sr`` (Sr, Snr), ``iii``, ``iv``
``_han``            the name in simplified hanzi when it is written in hanzi (one-character edits)
``_sylkey``         the pinyin syllables of a Chinese or pinyin name, sorted (``Tang Yan Lin`` = 唐艳琳)
``_fam_sx``         Soundex of ``_fam``; ``_giv_sx`` of ``_giv`` (phonetic blocking keys)
``_mobiles``        the numbers of ``phones``/``phone`` that are mobiles **by the number itself** (whatever
                    column they came in: a 固话 column holding a mobile still holds a mobile)
``_lines``          the other numbers (landlines, switchboards, numbers of unknown type)
``phone_national``  last 8 digits of each number (a number read with the wrong country code still agrees)
``email_local``     local part of ``email``; ``email_domain`` its domain
``_brand``          first four letters of ``company_key_pinyin`` (正宇, 泰安市正宇钢管有限公司 and
                    ``Zhengyu Steel Pipe`` share ``zhen``): a coarse company key for blocking with the name
``_street``         street and number: the address after the district (Chinese) or the ``street`` part,
                    case-folded, street types spelled out (``St`` → ``street``)
``_street_key``     the street's words without numbers (blocking: same street, any house number)
``_street_no``      the street's numbers (``2/14``): two addresses on one street differ where both have one
``city_key``        city without 市/``city`` suffix, from ``city`` or read from ``address``
``_dob``            birth date as ``YYYYMMDD`` text; ``_byear`` the year
``_cjk``            the full name is written in hanzi
==================  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from rules.normalise import all_words_pinyin, formal_given_name, is_mobile_number, soundex, split_syllables_of

__all__ = ["RID", "check_rid", "is_prepared", "prepare_records"]

RID = "_rid"
#: A character in the CJK blocks (text written in hanzi).
HANZI = r"[\u3400-\u9fff]"
#: Western street types, spelled out so that ``12 High St`` and ``12 high street`` compare equal.
STREET_TYPES: dict[str, str] = {
    "st": "street",
    "str": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "dr": "drive",
    "pl": "place",
    "cres": "crescent",
    "cr": "crescent",
    "ct": "court",
    "crt": "court",
    "cct": "circuit",
    "hwy": "highway",
    "ln": "lane",
    "la": "lane",
    "tce": "terrace",
    "pde": "parade",
    "cl": "close",
    "blvd": "boulevard",
    "sq": "square",
    "gr": "grove",
    "gdns": "gardens",
    "mt": "mount",
    "esp": "esplanade",
    "wy": "way",
    "pk": "park",
}


def check_rid(df: pl.DataFrame) -> None:
    """Raise ``ValueError`` unless ``df`` has a unique, non-null integer ``_rid``."""
    if RID not in df.columns:
        raise ValueError(f"matching needs an integer {RID!r} column")
    if not df.schema[RID].is_integer():
        raise ValueError(f"{RID!r} must be an integer column, not {df.schema[RID]}")
    if df[RID].null_count() or df[RID].n_unique() != df.height:
        raise ValueError(f"{RID!r} must be unique and non-null")


def _str(df: pl.DataFrame, col: str) -> pl.Expr:
    """The column as stripped text, null when absent or empty."""
    if col not in df.columns:
        return pl.lit(None, pl.String)
    expr = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(expr.str.len_chars() > 0).then(expr)


def _phone_columns(df: pl.DataFrame) -> pl.DataFrame:
    """``_mobiles``, ``_lines`` and ``phone_national`` from ``phones`` and ``phone``."""
    if "phones" not in df.columns and "phone" not in df.columns:
        return df
    df = df.with_columns(_numbers(df).alias("_all"))
    is_mobile = is_mobile_number(df["_all"].explode())
    # sorted inside list.eval: polars 2.1's list.sort() of text took 17 s on a million records, this 0.2 s
    out = df.with_columns(
        pl.col("_all").list.filter(is_mobile).list.eval(pl.element().sort()).alias("_mobiles"),
        pl.col("_all").list.filter(~is_mobile).list.eval(pl.element().sort()).alias("_lines"),
    )
    if "phone_national" not in df.columns:
        out = out.with_columns(
            pl.col("_all")
            .list.eval(pl.element().str.replace_all(r"\D", "").str.slice(-8))
            .list.unique()
            .alias("phone_national")
        )
    return out.drop("_all")


def _numbers(df: pl.DataFrame) -> pl.Series:
    """Each record's distinct numbers of ``phones`` and ``phone``, stripped (null where it has neither list nor
    number). ``phone`` is appended only on the rows whose ``phones`` lacks it, nearly always none: joining a list and
    a text column row by row (``concat_list``) cost half a second a million records, and dropping the nulls of
    every list (``list.drop_nulls``) as much again."""
    text_list = pl.List(pl.String)
    listed = pl.col("phones").cast(text_list) if "phones" in df.columns else pl.lit(None, dtype=text_list)
    single = pl.col("phone").cast(pl.String) if "phone" in df.columns else pl.lit(None, dtype=pl.String)
    frame = df.select(
        listed.list.eval(pl.element().str.strip_chars()).alias("n"), single.str.strip_chars().alias("p")
    ).with_row_index("i")
    lacking = pl.col("p").is_not_null() & ~pl.col("n").list.contains(pl.col("p")).fill_null(False)
    added = frame.filter(lacking).select("i", pl.concat_list(pl.col("n").fill_null(pl.lit([], dtype=text_list)), "p"))
    if added.height:
        frame = frame.join(added.rename({"n": "m"}), on="i", how="left", maintain_order="left").with_columns(
            pl.coalesce("m", "n").alias("n")
        )
    return frame.get_column("n").list.filter(pl.element().is_not_null()).list.unique()


def _name_columns(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with the name columns, derived once per distinct name where names repeat (a CRM's records of one
    person, common Chinese names: 976k sample records hold 229k names, 1.1 -> 0.77 s); a table of mostly distinct
    names (a person table) is derived row by row, which costs less than finding and joining its distinct names.
    (:func:`_per_distinct` does this for one text column and one expression; names are two columns and several.)"""
    keys = [c for c in ("full_name", "name_pinyin") if c in df.columns]
    if not keys:
        return _name_parts(df)
    names = df.select(pl.col(c).cast(pl.String) for c in keys)
    distinct = names.unique()
    if 2 * distinct.height > df.height:
        return _name_parts(df)
    parts = _name_parts(distinct)
    added = [c for c in parts.columns if c not in keys]
    joined = names.join(parts, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return df.with_columns(joined.select(added))


def _name_parts(df: pl.DataFrame) -> pl.DataFrame:
    full = _str(df, "full_name")
    # not stripped: a leading space marks a record that has only a given name (see rules.match.dedupe)
    pinyin = pl.col("name_pinyin").cast(pl.String) if "name_pinyin" in df.columns else pl.lit(None, pl.String)
    tokens = pinyin.str.to_lowercase().str.split(" ")
    generation = full.str.to_lowercase().str.extract(r"\b(jr|jnr|junior|ii|sr|snr|senior|iii|iv)\b", 1)
    out = df.with_columns(
        generation.replace({"jnr": "jr", "junior": "jr", "ii": "jr", "snr": "sr", "senior": "sr"}).alias("_gen"),
        full.str.to_lowercase().str.replace_all(r"[\s·.,'\-]+", " ").str.strip_chars().alias("_fname"),
        full.str.contains(HANZI).fill_null(False).alias("_cjk"),
        tokens.list.get(0, null_on_oob=True).alias("_fam"),
        tokens.list.get(1, null_on_oob=True).alias("_giv_raw"),
    )
    out = out.with_columns(
        pl.when(pl.col("_fam").str.len_chars() > 0).then(pl.col("_fam")).alias("_fam"),
        pl.when(pl.col("_giv_raw").str.len_chars() > 0).then(pl.col("_giv_raw")).alias("_giv_raw"),
        pl.when(pl.col("_cjk")).then(full.str.replace_all(r"[^\u3400-\u9fff]", "")).alias("_han"),
    )
    pinyin_text = out["name_pinyin"].cast(pl.String) if "name_pinyin" in out.columns else None
    out = out.with_columns(
        _syllable_keys(pinyin_text) if pinyin_text is not None else pl.lit(None, pl.String).alias("_sylkey")
    )
    words = pl.concat([out["_fam"], out["_giv_raw"]]).unique().drop_nulls()
    formal = {w: formal_given_name(w) for w in words.to_list()}
    codes = {w: soundex(formal.get(w, w)) for w in words.to_list()}
    out = out.with_columns(
        pl.col("_giv_raw").replace_strict(formal, default=None, return_dtype=pl.String).alias("_giv")
    )
    return out.with_columns(
        pl.col("_fam").replace_strict(codes, default=None, return_dtype=pl.String).alias("_fam_sx"),
        # from the raw word (its code is the formal name's): the formal name need not occur as a word itself
        pl.col("_giv_raw").replace_strict(codes, default=None, return_dtype=pl.String).alias("_giv_sx"),
    )


def _syllable_keys(pinyin: pl.Series) -> pl.Series:
    """``_sylkey``: the syllables of a pinyin name, sorted ("Tang Yan Lin", "Lin Tangyan" and 唐艳琳 share "lin
    tang yan"); null unless every word is pinyin and there are two syllables or more. Each distinct word is split
    once, the names assembled in polars."""
    names = pinyin.unique().drop_nulls()
    names = names.filter(all_words_pinyin(names))  # a Western name has a word no syllables make up: no key
    words = (
        pl.DataFrame({"name": names})
        .with_row_index("n")
        .with_columns(pl.col("name").str.to_lowercase().str.extract_all(r"\S+").alias("word"))
        .explode("word")
    )
    distinct = words["word"].drop_nulls().unique()
    split = pl.DataFrame({"word": distinct, "syllables": split_syllables_of(distinct)})
    joined = words.join(split, on="word", how="left")
    # a name with a word that is not pinyin has no key: dropped before the (costly) sorting of syllables, which
    # leaves little to sort in a table of Western names
    not_pinyin = joined.filter(pl.col("syllables").is_null()).select("n")
    keys = (
        joined.join(not_pinyin, on="n", how="anti")
        .group_by("n")
        .agg(
            pl.col("name").first(),
            pl.col("syllables").list.len().sum().alias("count"),
            pl.col("syllables").explode().sort().str.join(" ").alias("key"),
        )
        .filter(pl.col("count") >= 2)
    )
    return pinyin.replace_strict(keys["name"], keys["key"], default=None, return_dtype=pl.String).alias("_sylkey")


def _street_text(df: pl.DataFrame) -> pl.Expr:
    street = _str(df, "street")
    address = _str(df, "address")
    # Chinese addresses: the text after the district; Western ones: the normaliser's street part
    after_district = address.str.replace(r"^.*?(区|县|旗)", "")
    return pl.coalesce(street, pl.when(address.str.contains(HANZI)).then(after_district), address)


def _street_folded(text: pl.Expr) -> pl.Expr:
    words = text.str.to_lowercase().str.replace_all(r"[.,#'\-]+", " ").str.split(" ")
    spelled = words.list.eval(pl.element().replace(STREET_TYPES)).list.join(" ")
    folded = spelled.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(folded.str.len_chars() > 0).then(folded)


def _per_distinct(values: pl.Series, transform: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``transform`` of a text column computed once per distinct value (a million streets hold about 64k)."""
    distinct = values.unique().to_frame("v").with_columns(transform(pl.col("v")).alias("out"))
    mapped = values.to_frame("v").join(distinct, on="v", how="left", nulls_equal=True, maintain_order="left")
    return mapped.get_column("out").alias(values.name)


#: Columns every prepared frame has (their presence says a frame was prepared already).
_PREPARED = ("_fname", "_cjk", "_fam", "_giv", "_dob", "_street", "_street_no", "_sylkey")


def is_prepared(df: pl.DataFrame) -> bool:
    """Whether ``df`` already carries the derived columns of :func:`prepare_records`."""
    return all(c in df.columns for c in _PREPARED)


#: The input columns :func:`prepare_records` reads (the derived ones kept when present: ``phone_national``,
#: ``email_local``, ``email_domain``, ``city_key``).
READS: tuple[str, ...] = (
    "full_name",
    "name_pinyin",
    "phones",
    "phone",
    "phone_national",
    "email",
    "email_local",
    "email_domain",
    "city",
    "city_key",
    "address",
    "birth_date",
    "postcode",
    "company_key_pinyin",
    "street",
)


def prepare_records(df: pl.DataFrame) -> pl.DataFrame:
    """The normalised records with the derived columns of the module docstring (``_rid`` required).

    The columns are derived from those of ``df`` it reads, taken in one chunk each, and added to ``df``, whose
    columns are shared, never copied: deriving on the whole frame, whose columns come in chunks (a Parquet file's
    row groups), copied every column of it into one chunk when the first derived column did not line up with
    them (1M CRM records: +0.65 GiB)."""
    check_rid(df)
    out = _derived(df.select(c for c in df.columns if c in (RID, *READS)).rechunk())
    made = [c for c in out.columns if c not in df.columns or c in (RID, "email", "postcode")]
    return df.with_columns(out.select(made).get_columns())


def _derived(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` (the input columns :func:`prepare_records` reads) with the derived columns."""
    # names and numbers read other columns: the numbers are typed in a thread while the names' Python parts (one
    # call per distinct given name) hold the interpreter (976k CRM records: prepare_records 3.55 -> 2.88 s)
    with ThreadPoolExecutor(max_workers=1) as pool:
        numbers = pool.submit(_phone_columns, df)
        out = _name_columns(df)
        phones = numbers.result()
    out = out.with_columns(phones.select(c for c in phones.columns if c not in df.columns))
    email = _str(out, "email").str.to_lowercase()
    city = _str(out, "city")
    from_address = _str(out, "address").str.extract(r"(?:省|自治区)?([^省市区县\d]{2,6}?)市", 1)
    dob = _str(out, "birth_date").str.replace_all(r"\D", "").str.slice(0, 8)
    derived = {
        "email": email,
        "email_local": email.str.split("@").list.first(),
        "email_domain": email.str.split("@").list.last(),
        "city_key": pl.coalesce(city, from_address).str.to_lowercase().str.replace(r"(市|\s+city)$", ""),
        "postcode": _str(out, "postcode").str.to_uppercase().str.replace_all(r"\s+", ""),
        "_dob": pl.when(dob.str.len_chars() == 8).then(dob),
        "_brand": _str(out, "company_key_pinyin").str.slice(0, 4),
    }
    keep_input = {"email_local", "email_domain", "city_key"}
    out = out.with_columns(
        expr.alias(name) for name, expr in derived.items() if name not in out.columns or name not in keep_input
    )
    text = out.with_columns(_street_text(out).alias("_street")).get_column("_street")  # a literal null broadcast
    out = out.with_columns(_per_distinct(text, _street_folded))
    return out.with_columns(
        pl.col("_dob").str.slice(0, 4).alias("_byear"),
        pl.col("_street").str.extract_all(r"\d+").list.join("/").replace("", None).alias("_street_no"),
        pl.col("_street")
        .str.replace_all(r"[\d/]+", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .alias("_street_key"),
    ).with_columns(pl.when(pl.col("_street_key").str.len_chars() >= 2).then(pl.col("_street_key")).alias("_street_key"))
