"""Throughput of every registered normaliser on one core, with realistic duplication.

Run with ``.venv/bin/python benchmarks/normalise.py [--rows 1000000] [--kinds phone,email] [--seed 7]``.

For each kind in ``rules.normalise.NORMALISERS`` the script builds a pool of distinct raw cells shaped like
real CRM exports (the vocabulary of ``synthetic.sample.names``: the same person, company or phone written
in several ways, typos, placeholders, Excel floats, full-width digits), draws ``--rows`` rows from it (every
pool value at least once, so the distinct ratio is exact), runs the normaliser once and prints a Markdown
table: kind, rows, distinct raw values, seconds, rows/s and the peak resident memory of that run. Rows named
``kind:variant`` (``name:western``: a Western CRM's names only) run the same normaliser on another mix.

``POLARS_MAX_THREADS=1`` is set before polars is imported, so polars runs on one core; every kind runs in
the same process, one after the other, in a fresh state (the normalisers' cross-call memo is cleared).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ["POLARS_MAX_THREADS"] = "1"  # before polars is imported anywhere

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import polars as pl

from rules.normalise import NORMALISERS
from synthetic.sample import names as vocab

TARGET_ROWS_PER_S = 200_000
TODAY = dt.date(2026, 11, 23)

#: Share of distinct raw values per kind (real exports repeat people, companies and placeholders a lot;
#: timestamps much less).
DISTINCT_SHARE: dict[str, float] = {
    "phone": 0.20,
    "email": 0.20,
    "name": 0.20,
    "company": 0.10,
    "date": 0.10,
    "datetime": 0.50,
    "gender": 0.00005,
    "text": 0.10,
    "address": 0.20,
    "id_number": 0.20,
}

_FULLWIDTH = str.maketrans("0123456789+-", "０１２３４５６７８９＋－")


def _pick(rng: random.Random, options: list[tuple[Callable[[], str], float]]) -> str:
    fns, weights = zip(*options, strict=True)
    return rng.choices(fns, weights)[0]()


def _mobile(rng: random.Random) -> str:
    return rng.choice(vocab.CN_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _landline(rng: random.Random) -> tuple[str, str]:
    city = rng.choice(vocab.CN_CITIES)
    digits = city[4]
    return city[3], str(rng.randint(2, 8)) + f"{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"


def gen_phone(rng: random.Random) -> str:
    def mobile() -> str:
        n = _mobile(rng)
        styles = [
            (n, 45),
            (f"{n[:3]} {n[3:7]} {n[7:]}", 12),
            (f"{n[:3]}-{n[3:7]}-{n[7:]}", 10),
            (f"+86 {n[:3]} {n[3:7]} {n[7:]}", 10),
            (f"+86{n}", 8),
            (f"86{n}", 6),
            (f"0086 {n}", 3),
            (f"(+86){n}", 3),
            (f"{n}.0", 2),
            (n.translate(_FULLWIDTH), 1),
            (f"手机:{n}", 2),
        ]
        return rng.choices([s for s, _ in styles], [w for _, w in styles])[0]

    def landline() -> str:
        area, local = _landline(rng)
        text = rng.choice([f"{area}-{local}", f"({area}){local}", f"{area} {local}", f"+86 {area[1:]} {local}"])
        if rng.random() < 0.15:
            text += rng.choice(["转", "-", " ext. "]) + str(rng.randint(100, 8999))
        return text

    def two() -> str:
        return rng.choice(["/", ",", " ", "，"]).join([_mobile(rng), _mobile(rng)])

    def foreign() -> str:
        return rng.choice(["+1 415-555-", "+1 (212) 555-", "+44 20 7946 "]) + f"{rng.randrange(10**4):04d}"

    def junk() -> str:
        return rng.choice([*vocab.SPAM_PHONES, "无", "N/A", "-", "138001380", "打我手机"])

    return _pick(rng, [(mobile, 70), (landline, 20), (two, 5), (foreign, 3), (junk, 2)])


def _pinyin_local(rng: random.Random) -> str:
    family = rng.choice(["zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou"])
    given = rng.choice(["wei", "fang", "na", "min", "jing", "lei", "qiang", "xiaoming", "jie", "yan"])
    return rng.choice([f"{family}{given}", f"{family}.{given}", f"{given}{family}", f"{family}_{given}"]) + (
        str(rng.randint(1, 9999)) if rng.random() < 0.7 else ""
    )


def gen_email(rng: random.Random) -> str:
    domains = [d for d, _ in vocab.CN_EMAIL_DOMAINS] + [d for d, _ in vocab.WESTERN_EMAIL_DOMAINS]

    def person() -> str:
        if rng.random() < 0.35:
            return f"{rng.randint(10000, 3999999999)}@qq.com"
        return f"{_pinyin_local(rng)}@{rng.choice(domains)}"

    def messy() -> str:
        address = person()
        return rng.choice(
            [address.upper(), f" {address} ", f"mailto:{address}", address.replace("@", "＠"), address + "."]
        )

    def typo() -> str:
        domain = rng.choice(list(vocab.EMAIL_DOMAIN_TYPOS))
        return f"{_pinyin_local(rng)}@{rng.choice(vocab.EMAIL_DOMAIN_TYPOS[domain])}"

    def company() -> str:
        brand = rng.choice(vocab.CN_BRANDS)[1].lower().replace("'", "")
        return f"{rng.choice(['info', 'sales', _pinyin_local(rng)])}@{brand}{rng.randint(1, 500)}.com.cn"

    def junk() -> str:
        return rng.choice([*vocab.SPAM_EMAILS, "无", "N/A", "zhangsan", "zs@@qq.com"])

    def two() -> str:
        return f"{person()}; {person()}"

    return _pick(rng, [(person, 70), (messy, 10), (typo, 4), (company, 12), (junk, 2), (two, 2)])


def _cn_name(rng: random.Random) -> tuple[str, str]:
    surnames, weights = zip(*vocab.SURNAMES, strict=True)
    family = rng.choices(surnames, weights)[0]
    chars = rng.choice([vocab.GIVEN_CHARS_MALE, vocab.GIVEN_CHARS_FEMALE])
    given = "".join(rng.choice(chars) for _ in range(rng.choice([1, 2, 2])))
    return family, given


def gen_name(rng: random.Random) -> str:
    def chinese() -> str:
        family, given = _cn_name(rng)
        return family + given

    def spaced() -> str:
        family, given = _cn_name(rng)
        return rng.choice([f"{family} {given}", f" {family}{given} ", f"{family}\u3000{given}"])

    def titled() -> str:
        family, given = _cn_name(rng)
        return rng.choice([f"{family}先生", f"{family}女士", f"{family}总", f"{family}{given}经理"])

    def traditional() -> str:
        return rng.choice(["張偉", "陳靜", "劉洋", "王麗", "黃誌強", "趙敏", "吳傑", "鄭華", "許嘉欣", "楊國慶"])

    def pinyin() -> str:
        family = rng.choice(["Zhang", "Wang", "Li", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou"])
        given = rng.choice(["Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Xiaoming", "Jie", "Yan"])
        return rng.choice([f"{family} {given}", f"{given} {family}", f"{family.upper()} {given}", family + given])

    def western() -> str:
        first = rng.choice(vocab.WESTERN_FIRST)
        given = rng.choice([first[0], *first[2]]) if first[2] and rng.random() < 0.2 else first[0]
        last = rng.choice(vocab.WESTERN_LAST)
        return rng.choice(
            [f"{given} {last}", f"{last}, {given}", f"{given} {rng.choice('ABCDEJM')}. {last}", f"Dr. {given} {last}"]
        )

    def junk() -> str:
        return rng.choice([*vocab.SPAM_NAMES, "N/A", "客户", "某某"])

    return _pick(
        rng,
        [(chinese, 62), (spaced, 5), (titled, 8), (traditional, 2), (pinyin, 10), (western, 11), (junk, 2)],
    )


_SURNAME_ENDINGS = ("son", "ton", "ley", "man", "ford", "well", "ham", "er", "by", "field", "wick", "ston", "berg")


def gen_name_western(rng: random.Random) -> str:
    """A Western CRM's names: mostly ``Given Family``; surnames from a large synthetic set (real ones repeat less)."""
    given = rng.choice(vocab.WESTERN_FIRST)[0]
    last = rng.choice(vocab.WESTERN_LAST)
    if rng.random() < 0.7:
        last = rng.choice("BCDFGHKLMNPRSTW") + rng.choice("aeiou") + rng.choice("lnrst") + rng.choice(_SURNAME_ENDINGS)
    shapes = [f"{given} {last}", f"{last}, {given}", f"{given} {rng.choice('ABCDEJM')}. {last}", f"Dr. {given} {last}"]
    return rng.choices([*shapes, f"{given} {last}".upper()], [70, 10, 10, 5, 5])[0]


def gen_company(rng: random.Random) -> str:
    def chinese() -> str:
        province, city = rng.choice(vocab.CN_CITIES)[:2]
        brand = rng.choice(vocab.CN_BRANDS)[0] + (rng.choice(vocab.BRAND_CHARS) if rng.random() < 0.8 else "")
        industry = rng.choice(vocab.CN_INDUSTRIES)[0]
        suffix = rng.choice(vocab.CN_SUFFIXES)[0]
        region = rng.choice([city, city[:-1], province + city, ""])
        if rng.random() < 0.1:
            return f"{brand}{industry}({city[:-1]}){suffix}"
        return f"{region}{brand}{industry}{suffix}"

    def english() -> str:
        city = rng.choice(vocab.CN_CITIES)[2]
        brand = rng.choice(vocab.CN_BRANDS)[1]
        industry = rng.choice(vocab.CN_INDUSTRIES)[1]
        return f"{city} {brand} {industry} Co., Ltd." if rng.random() < 0.7 else f"{brand} {industry} Co.,Ltd"

    def western() -> str:
        stem = rng.choice(vocab.WESTERN_COMPANY_STEMS)
        industry = rng.choice(vocab.WESTERN_COMPANY_INDUSTRIES)
        suffix = rng.choice(rng.choice(vocab.WESTERN_COMPANY_SUFFIXES))
        return f"{stem} {industry} {suffix}"

    def junk() -> str:
        return rng.choice(["个人", "无", "N/A", "个体", "test"])

    return _pick(rng, [(chinese, 80), (english, 8), (western, 9), (junk, 3)])


def gen_date(rng: random.Random) -> str:
    day = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 66))
    y, m, d = day.year, day.month, day.day
    styles = [
        (day.isoformat(), 40),
        (f"{y}/{m}/{d}", 15),
        (f"{y}年{m}月{d}日", 12),
        (f"{y}{m:02d}{d:02d}", 6),
        (f"{y}.{m}.{d}", 5),
        (str((day - dt.date(1899, 12, 30)).days), 8),
        (f"{d:02d}/{m:02d}/{y}", 4),
        (f"{day.isoformat()} 00:00:00", 6),
        (f"{y % 100:02d}.{m}.{d}", 2),
        (rng.choice(["0000-00-00", "1900-01-01", "N/A", "不详", "1985"]), 2),
    ]
    return rng.choices([s for s, _ in styles], [w for _, w in styles])[0]


def gen_datetime(rng: random.Random) -> str:
    moment = dt.datetime(2019, 1, 1) + dt.timedelta(seconds=rng.randrange(6 * 365 * 86400))
    iso = moment.isoformat(sep=" ")
    styles = [
        (iso, 50),
        (moment.isoformat(), 12),
        (moment.strftime("%Y-%m-%d %H:%M"), 8),
        (moment.strftime("%Y/%m/%d %H:%M:%S"), 8),
        (moment.isoformat() + "Z", 4),
        (moment.isoformat() + "+08:00", 4),
        (str(int(moment.replace(tzinfo=dt.UTC).timestamp())), 4),
        (f"{moment.year}年{moment.month}月{moment.day}日 {moment.hour}:{moment.minute:02d}", 4),
        (moment.date().isoformat(), 4),
        (rng.choice(["0000-00-00 00:00:00", "1970-01-01 00:00:00", "", "N/A"]), 2),
    ]
    return rng.choices([s for s, _ in styles], [w for _, w in styles])[0]


GENDERS = ["男", "女", "男", "女", "M", "F", "male", "female", "Male", "1", "2", "0", "未知", "", "先生", "女士"]


def gen_gender(rng: random.Random) -> str:
    return rng.choice(GENDERS)


def gen_text(rng: random.Random) -> str:
    note = rng.choice([*vocab.NOTES_CN, *vocab.NOTES_EN, *vocab.NOTES_TRICKY, *vocab.SEGMENTS])
    if rng.random() < 0.7:
        note = f"{note} {rng.randint(1, 999)}"
    return rng.choice([note, f" {note} ", note.replace(" ", "\u3000"), "N/A"]) if rng.random() < 0.1 else note


def gen_address(rng: random.Random) -> str:
    province, city, _, _, _, _, districts = rng.choice(vocab.CN_CITIES)
    street = rng.choice(vocab.CN_STREETS)
    number = f"{rng.randint(1, 999)}号"
    extra = rng.choice(["", "", rng.choice(vocab.CN_BUILDINGS) + f"{rng.randint(1, 30)}楼"])
    return rng.choice([f"{province}{city}{rng.choice(districts)}", f"{city}", f"{province} {city} "]) + (
        f"{street}{number}{extra}"
    )


def gen_id_number(rng: random.Random) -> str:
    area = rng.choice(["371502", "110105", "310115", "370102", "440305", "330106"])
    born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(365 * 55))
    body = f"{area}{born:%Y%m%d}{rng.randrange(1000):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    number = body + check
    return rng.choice([number, number, number, number.lower(), f" {number} ", number[:6] + " " + number[6:]])


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "phone": gen_phone,
    "email": gen_email,
    "name": gen_name,
    "company": gen_company,
    "date": gen_date,
    "datetime": gen_datetime,
    "gender": gen_gender,
    "text": gen_text,
    "address": gen_address,
    "id_number": gen_id_number,
}
#: Extra rows of the table: another mix of values for a registered kind (``kind:variant``).
VARIANTS: dict[str, Callable[[random.Random], str]] = {"name:western": gen_name_western}
PARAMS: dict[str, dict[str, object]] = {"date": {"today": TODAY}, "datetime": {"today": TODAY}}


def make_rows(kind: str, rows: int, seed: int) -> pl.Series:
    """``rows`` raw cells of ``kind``: a pool of distinct values, each used at least once, then repeats."""
    rng = random.Random(f"{seed}-{kind}")
    generate = VARIANTS.get(kind) or GENERATORS.get(kind, gen_text)
    target = max(1, int(rows * DISTINCT_SHARE.get(kind.split(":")[0], 0.2)))
    pool: dict[str, None] = {}
    attempts = 0
    while len(pool) < target and attempts < target * 20:
        pool[generate(rng)] = None
        attempts += 1
    values = list(pool)
    rng.shuffle(values)
    indexes = pl.concat(
        [
            pl.int_range(0, min(len(values), rows), eager=True),
            pl.Series(values=[rng.randrange(len(values)) for _ in range(rows - min(len(values), rows))]),
        ]
    ).cast(pl.UInt32)
    return pl.Series(kind, values, dtype=pl.String).gather(indexes.shuffle(seed=seed)).alias(kind)


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):  # Linux: resets the peak RSS (VmHWM) of this process
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _clear_memos() -> None:
    """A cold start for each kind: the normalisers' process-wide memos (``rules.normalise._base``) start empty."""
    from rules.normalise import _base

    _base._MEMOS.clear()  # memo_for makes a new, empty memo on the next call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--kinds", default="", help="comma-separated kinds (default: every registered kind and variant)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k] or [*NORMALISERS, *VARIANTS]

    lines = [
        f"Normaliser throughput, {args.rows:,} rows per kind, one core (`POLARS_MAX_THREADS=1`), "
        f"polars {pl.__version__}, Python {sys.version.split()[0]}. Target: {TARGET_ROWS_PER_S:,} rows/s.",
        "",
        "| kind | rows | distinct | distinct % | seconds | rows/s | peak RSS (MB) | target |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    print(lines[0], file=sys.stderr)
    for kind in kinds:
        normaliser = NORMALISERS[kind.split(":")[0]]
        values = make_rows(kind, args.rows, args.seed)
        distinct = values.n_unique()
        _clear_memos()
        gc.collect()
        _reset_peak_rss()
        start = time.perf_counter()
        out = normaliser(values, **PARAMS.get(kind, {}))
        seconds = time.perf_counter() - start
        peak = _peak_rss_mb()
        assert out.height == values.len()
        rate = args.rows / seconds
        row = (
            f"| {kind} | {args.rows:,} | {distinct:,} | {distinct / args.rows:.1%} | {seconds:.2f} | "
            f"{rate:,.0f} | {peak:,.0f} | {'✅' if rate >= TARGET_ROWS_PER_S else '❌'} |"
        )
        lines.append(row)
        print(row, file=sys.stderr, flush=True)
        del out, values
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
