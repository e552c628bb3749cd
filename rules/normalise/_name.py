"""Person-name normaliser: cleaned display name, title, family/given split, pinyin and blocking keys.

Rules, in order:

* Clean (half-width, whitespace), then reject non-names: placeholders (``test``, ``测试``, ``xxx``,
  ``N/A``), markup, URLs, e-mail addresses, anything with digits, keyboard runs (``asdf``), one repeated
  character, company names (公司, 有限, ``Ltd``) and titles with no name → ``not_a_name``.
* Traditional characters become simplified (OpenCC ``t2s``; issue ``traditional``).
* Titles move to ``name_title``: Chinese ones after the name (王先生, 张总, 李经理; one-character titles
  such as 总/工 only right after a bare surname), Western ones before or after (``Dr. Smith``, ``Smith
  PhD``), and a bracketed title (``张伟（经理）``). Other bracketed text stays in the value but is not
  parsed.
* Chinese names: a compound surname (欧阳, 司马 …) if the name starts with one, else the first character.
  Names with a middle dot (``阿卜杜·热合曼``) are transliterations without a family name: both parts are
  null.
* Latin names: ``Family, Given`` when there is a comma; otherwise, if every word is pinyin (``Zhang Wei``,
  ``Wei Zhang``, ``ZHANG Xiao Ming``, ``zhangwei``), the family name is the word written in capitals if
  exactly one is, else whichever of the first and last word is the more frequent Chinese surname (a compound
  surname such as ``Ouyang`` first, then the 2020 ranking; ties go to the first word: Chinese order; if
  neither is a surname, Western order); a single pinyin word is split after a leading surname
  (``zhangwei``). Any other Latin name is read in Western order: the last word (with particles such as ``van
  der``) is the family name. All-upper or all-lower names are re-cased for display (``JOHN SMITH`` → ``John
  Smith``); mixed case is kept.

Parts: ``name_pinyin`` is ``"family given"`` in lower-case tone-less pinyin (Chinese) or folded ASCII
(Latin). ``name_key`` is a blocking key: the ASCII family key and given key, sorted and concatenated, so the
order in which a name was written does not matter (张伟, 張偉, Zhang Wei, Wei Zhang, ZHANG Wei and zhangwei
all give ``weizhang``); the given key of a Western name is its first given word with nicknames resolved (Bob
→ robert), so middle names and initials do not split a person. ``name_phonetic`` is the American Soundex
code of the family key (``zhang`` → ``Z520``, ``smith``/``smyth`` → ``S530``).

Speed: most names in a Chinese CRM are 2-4 simplified characters. Those run vectorised in polars
(:func:`_fast`, with the pinyin computed once per distinct surname and given name); a test checks that
it gives exactly what the per-value path :func:`_one` gives.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping

import polars as pl

from ._base import (
    ISSUES_DTYPE,
    NULL_MARKERS,
    Schema,
    _traditional_chars,
    clean_text,
    collapse_whitespace,
    is_null_marker,
    map_distinct,
    memo_for,
    to_simplified,
)
from ._name_tables import (
    CN_TITLES,
    COMMON_SURNAMES,
    COMPOUND_SURNAMES,
    NICKNAMES,
    OTHER_SURNAMES,
    SURNAME_PARTICLES,
    WESTERN_SUFFIXES,
    WESTERN_TITLES,
)
from ._pinyin import han_syllables, has_han, is_han, split_syllables, surname_pinyin
from ._registry import FrameSpec, register_normaliser

_SCHEMA: Schema = {
    "value": pl.String,
    "issues": ISSUES_DTYPE,
    "family_name": pl.String,
    "given_name": pl.String,
    "name_title": pl.String,
    "name_pinyin": pl.String,
    "name_key": pl.String,
    "name_phonetic": pl.String,
}
_NOT_A_NAME = (None, ["not_a_name"], None, None, None, None, None, None)

_PLACEHOLDER_WORDS = frozenset(
    {"test", "testing", "tester", "asdf", "xxx", "xx", "x", "abc", "abcd", "unknown", "anonymous", "anon"}
    | {"customer", "client", "user", "name", "fullname", "full name", "admin", "demo", "sample", "dummy"}
    | {"nobody", "noname", "no name", "someone", "somebody", "guest", "qwe", "foo", "bar", "foobar"}
    | {"测试", "测试用户", "测试人员", "测试账号", "某某", "某人", "无名", "无名氏", "匿名", "客户", "顾客"}
    | {"用户", "姓名", "名字", "本人", "联系人", "先生", "女士", "小姐", "同学", "未命名"}
)
_SYMBOLS = frozenset({"So", "Sk", "Cs", "Co"})  # emoji and pictographs, modifier symbols, lone surrogates, private use
_SUSPICIOUS = re.compile(r"<[^>]*>|https?:|www\.|\.(?:com|cn|net|org)\b|@|\d|[=;{}\[\]|\\^~$%*#&+]|\.\./", re.I)
_CN_COMPANY_WORDS = ("公司", "有限", "集团", "工作室", "事务所", "银行", "学校", "医院", "大学", "委员会")
_LATIN_COMPANY_WORDS = ("co", "ltd", "inc", "llc", "corp", "gmbh", "limited", "company", "corporation", "plc")
_COMPANY = re.compile("|".join(_CN_COMPANY_WORDS) + rf"|\b(?:{'|'.join(_LATIN_COMPANY_WORDS)})\b\.?", re.IGNORECASE)
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890")
_BRACKET = re.compile(r"[(\[【](.*?)[)\]】]")
_MIDDLE_DOT = re.compile(r"[·•・.．]")
_HAN_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_LATIN_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\-][^\W\d_])*\.?")
_WESTERN_TITLE_RE = "|".join(sorted(WESTERN_TITLES, key=len, reverse=True))
_LEADING_TITLE = re.compile(rf"^(?:({_WESTERN_TITLE_RE})\.?(?:\s+|(?<=\.))|({_WESTERN_TITLE_RE})\.\s*)", re.I)
_TRAILING_TITLE = re.compile(rf"[\s,]+({_WESTERN_TITLE_RE})\.?$", re.I)
_NOT_ASCII_LOWER = re.compile("[^a-z]+")
_FOLD_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "œ": "oe", "ı": "i"})
_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}
_CN_TITLE_ENDINGS = frozenset(title[-1] for title in CN_TITLES)
_SURNAMES = frozenset(COMMON_SURNAMES) | frozenset(OTHER_SURNAMES)


def soundex(word: str) -> str | None:
    """American Soundex of an ASCII word (letter + three digits), ``None`` when it has no ASCII letter.

    The first letter is kept; b f p v → 1, c g j k q s x z → 2, d t → 3, l → 4, m n → 5, r → 6; vowels
    (and y) separate equal codes, h and w do not; the result is padded with zeros.
    """
    letters = [c for c in word.lower() if "a" <= c <= "z"]
    if not letters:
        return None
    out = [letters[0].upper()]
    last = _SOUNDEX_CODES.get(letters[0], "")
    for c in letters[1:]:
        code = _SOUNDEX_CODES.get(c, "")
        if code and code != last:
            out.append(code)
            if len(out) == 4:
                break
        if c not in "hw":
            last = code
    return "".join(out).ljust(4, "0")


def formal_given_name(word: str) -> str:
    """The formal given name behind an English nickname (``bob`` → ``robert``); other words unchanged.

    ``word`` is a folded ASCII word (see :func:`fold_ascii`); matching uses it to compare given names.
    """
    return NICKNAMES.get(word, word)


@functools.cache
def nickname_pairs() -> pl.DataFrame:
    """Pairs of folded given names one person goes by interchangeably: ``a``, ``b`` (both orders, distinct).

    A formal name and each of its nicknames, and two nicknames of one formal name (``liz`` / ``bess``), from the
    ``nicknames`` dataset (2,700 hand-curated English names) and crmkit's own table. Two formal names that only
    share a nickname (``aaron`` / ``veronica``, both ``ron``) are not a pair.
    """
    from nicknames import name_triplets

    families: dict[str, set[str]] = {}
    for formal, _, nick in name_triplets():
        families.setdefault(formal, set()).add(nick)
    for nick, formal in NICKNAMES.items():
        families.setdefault(formal, set()).add(nick)
    pairs = {(formal, nick) for formal, nicks in families.items() for nick in nicks}
    pairs |= {(x, y) for nicks in families.values() for x in nicks for y in nicks}
    pairs |= {(y, x) for x, y in pairs}
    rows = sorted((x, y) for x, y in pairs if x != y)
    return pl.DataFrame(rows, schema={"a": pl.String, "b": pl.String}, orient="row")


def fold_ascii(text: str) -> str:
    """Lower-case ASCII letters only: diacritics removed (``Müller`` → ``muller``), the rest dropped."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = unicodedata.normalize("NFKD", lowered.translate(_FOLD_EXTRA))
    return _NOT_ASCII_LOWER.sub("", lowered)


@functools.cache
def _surname_ranks() -> dict[str, int]:
    ranks: dict[str, int] = {}
    for compound in COMPOUND_SURNAMES:  # a compound surname is never a given name: it always wins
        ranks.setdefault(surname_pinyin(compound), -1)
    for rank, char in enumerate(COMMON_SURNAMES):
        ranks.setdefault(surname_pinyin(char), rank)
    for char in OTHER_SURNAMES:
        ranks.setdefault(surname_pinyin(char), 1000)
    return ranks


def _is_keyboard_run(word: str) -> bool:
    return len(word) >= 3 and any(word in row or word in row[::-1] for row in _KEYBOARD_ROWS)


def _looks_like_non_name(text: str) -> bool:
    folded = text.casefold().strip(" .")
    if is_null_marker(text) or folded in _PLACEHOLDER_WORDS:
        return True
    if _SUSPICIOUS.search(text) or _COMPANY.search(text):
        return True
    letters = [c for c in folded if c.isalpha()]
    if not letters or (len(letters) == 1 and letters[0].isascii()):
        return True
    if len(letters) >= 2 and len(set(letters)) == 1:
        return True
    words = re.findall(r"[a-z]+", folded)
    return bool(words) and all(_is_keyboard_run(w) for w in words) and folded.isascii()


#: One-character titles that also follow a full name (王伟总, 刘阳董: the boss); 工 does not (李建工 is a name).
_BOSS_TITLES = frozenset({"总", "董"})


def _boss_after_name(rest: str, title: str) -> bool:
    """``rest`` + ``title`` is a full Chinese name followed by 总/董 (a surname and one or two given characters)."""
    if title not in _BOSS_TITLES or not 2 <= len(rest) <= 4:
        return False
    family = rest[:2] if rest[:2] in COMPOUND_SURNAMES else rest[:1]
    return (family in _SURNAMES or family in COMPOUND_SURNAMES) and 1 <= len(rest) - len(family) <= 2


def _split_titles(text: str) -> tuple[str, list[str]]:
    """Remove titles from ``text``; returns the rest and the titles found, in reading order."""
    titles: list[str] = []
    for match in list(_BRACKET.finditer(text)) if "(" in text or "[" in text or "【" in text else ():
        inner = match.group(1).strip()
        title = WESTERN_TITLES.get(inner.lower().rstrip(".")) or (inner if inner in CN_TITLES else None)
        if title:
            titles.append(title)
            text = text.replace(match.group(0), " ")
    text = collapse_whitespace(text).strip(" ,")
    while text[:1].isascii() and (leading := _LEADING_TITLE.match(text)):
        titles.append(WESTERN_TITLES[(leading.group(1) or leading.group(2)).lower()])
        text = text[leading.end() :]
    while text[-1:].isascii() and (trailing := _TRAILING_TITLE.search(text)):
        titles.append(WESTERN_TITLES[trailing.group(1).lower()])
        text = text[: trailing.start()]
    text = text.strip(" ,")
    compact = _HAN_GAP.sub("", text)
    for title in CN_TITLES if compact[-1:] in _CN_TITLE_ENDINGS else ():
        if compact.endswith(title) and len(compact) > len(title):
            rest = compact[: -len(title)].rstrip()
            if not rest or not is_han(rest[-1]):
                continue
            if len(title) == 1 and not (
                rest in _SURNAMES or rest in COMPOUND_SURNAMES or _boss_after_name(rest, title)
            ):
                continue  # 张总 yes, 张建工 no
            titles.append(title)
            text = rest
            break
    return text.strip(" ,"), titles


def _recase(text: str) -> str:
    """Title-case an all-upper or all-lower Latin name; mixed case is the writer's choice and kept."""
    letters = [c for c in text if c.isalpha()]
    if not letters or not (all(c.isupper() for c in letters) or all(c.islower() for c in letters)):
        return text

    def word(match: re.Match[str]) -> str:
        w = match.group(0).lower()
        if w in SURNAME_PARTICLES and match.start() > 0:
            return w
        w = re.sub(r"(^|['’\-])([a-z])", lambda m: m.group(1) + m.group(2).upper(), w)
        if w.startswith("Mc") and len(w) > 2:
            w = "Mc" + w[2].upper() + w[3:]
        return w

    return re.sub(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*", word, text)


def _key(family: str, given: str) -> str | None:
    parts = sorted(p for p in (family, given) if p)
    return "".join(parts) or None


def _chinese(han: str) -> tuple[str | None, str | None, str, str | None]:
    """Family, given, name_pinyin and name_key of a Han name."""
    if _MIDDLE_DOT.search(han):
        syllables = [s for part in _MIDDLE_DOT.split(han) for s in han_syllables(part)]
        return None, None, " ".join(syllables), "".join(syllables) or None
    family = han[:2] if han[:2] in COMPOUND_SURNAMES else han[0]
    given = han[len(family) :] or None
    family_py = surname_pinyin(family)
    given_py = "".join(han_syllables(given)) if given else ""
    return family, given, f"{family_py} {given_py}".strip(), _key(family_py, given_py)


def _pinyin_family_index(words: list[str], folded: list[str]) -> int:
    """Which of the first and last word is the family name of a pinyin name (see the module docstring)."""
    ends = [0, len(words) - 1]
    caps = [i for i in ends if words[i].isupper() and len(words[i]) > 1]
    if len(caps) == 1 and not all(w.isupper() for w in words):
        return caps[0]
    ranks = _surname_ranks()
    first, last = ranks.get(folded[0], 10_000), ranks.get(folded[-1], 10_000)
    if first == last == 10_000:
        return len(words) - 1
    return 0 if first <= last else len(words) - 1


def _latin(core: str) -> tuple[str | None, str | None, str, str | None, str | None]:
    """Family, given, name_pinyin, name_key and the family key of a Latin-script name."""
    comma = "," in core
    if comma:
        before, _, after = core.partition(",")
        after_words = _LATIN_WORD.findall(after)
        if not after_words or all(w.lower().rstrip(".") in WESTERN_SUFFIXES for w in after_words):
            comma = False
    words = [w for w in _LATIN_WORD.findall(core) if w.lower().rstrip(".") not in WESTERN_SUFFIXES]
    if not words:
        return None, None, "", None, None
    # another alphabet (Иван Петров, Γιώργος, 김민준, محمد): its letters, case-folded, are the key
    folded = [fold_ascii(w) or w.casefold() for w in words]
    if comma:
        family_words = [w for w in _LATIN_WORD.findall(before) if w.lower().rstrip(".") not in WESTERN_SUFFIXES]
        given_words = [w for w in after_words if w.lower().rstrip(".") not in WESTERN_SUFFIXES]
        pinyin_name = False
    elif len(words) == 1 and 2 <= len(words[0]) <= 4 and all("\uac00" <= c <= "\ud7a3" for c in words[0]):
        pinyin_name = False  # a Korean name in Hangul: the first syllable is the family name (김민준)
        family_words, given_words = [words[0][0]], [words[0][1:]]
    elif all(split_syllables(f) for f in folded) and len(words) <= 4:
        pinyin_name = True
        if len(words) == 1:
            family_words, given_words = _split_single_pinyin(words[0], folded[0])
        else:
            index = _pinyin_family_index(words, folded)
            family_words = [words[index]]
            given_words = words[1:] if index == 0 else words[:-1]
    else:
        pinyin_name = False
        start = len(words) - 1
        while start > 1 and words[start - 1].lower() in SURNAME_PARTICLES:
            start -= 1
        family_words, given_words = words[start:], words[:start]
    family_key = "".join(fold_ascii(w) or w.casefold() for w in family_words)
    given_folded = [fold_ascii(w) or w.casefold() for w in given_words]
    given_folded = [g for g in given_folded if g]
    if pinyin_name:
        given_key = "".join(given_folded)
        pinyin = f"{family_key} {given_key}".strip()
    else:
        given_key = NICKNAMES.get(given_folded[0], given_folded[0]) if given_folded else ""
        pinyin = " ".join([family_key, *given_folded]).strip()
    family = " ".join(family_words) or None
    given = " ".join(given_words) or None
    return family, given, pinyin, _key(family_key, given_key), family_key or None


def _split_single_pinyin(word: str, folded: str) -> tuple[list[str], list[str]]:
    """``zhangwei`` → (``zhang``, ``wei``) when it starts with a known surname; otherwise all family."""
    parts = split_syllables(folded) or ()
    ranks = _surname_ranks()
    for size in (2, 1):
        if len(parts) > size and "".join(parts[:size]) in ranks:
            cut = len("".join(parts[:size]))
            return [word[:cut]], [word[cut:]]
    return [word], []


_FAST_EXCLUDED = sorted(NULL_MARKERS | _PLACEHOLDER_WORDS)
#: Lower-case words that keep a Latin name off the fast path: titles, suffixes, company and placeholder words.
_NOT_NAME_WORDS = frozenset(WESTERN_TITLES) | WESTERN_SUFFIXES | frozenset(_LATIN_COMPANY_WORDS) | _PLACEHOLDER_WORDS


@functools.cache
def _traditional_class() -> str:
    """The characters of :func:`_traditional_chars` as one regex character class: polars keeps a compiled regex
    between calls, where ``contains_any`` built an automaton of its 4,221 patterns on every call (5 ms: most of
    normalising one name; the class also scans a column four times faster)."""
    return "[" + "".join(re.escape(char) for char in sorted(_traditional_chars())) + "]"


def _fast(keys: pl.Series) -> pl.DataFrame:
    """The vectorised path for the common shapes (exactly what ``_one`` gives); ``_one`` does the rest."""
    keys = keys.drop_nulls()
    return pl.concat([_fast_chinese(keys), _fast_western(keys)], how="vertical")


def _fast_chinese(keys: pl.Series) -> pl.DataFrame:
    """2-4 simplified Chinese characters, perhaps with spaces (张伟, 欧阳 锋).

    The pinyin is computed once per distinct surname and given name (far fewer than names) and joined back.
    Traditional characters, a title ending such as 先生/总, a placeholder, a company word or one repeated
    character are left to ``_one``.
    """
    name = pl.col("value")
    plain = (
        pl.DataFrame({"__key": keys})
        .with_columns(pl.col("__key").str.replace_all(r"\s+", "").alias("value"))
        .filter(
            name.str.contains("^[\u4e00-\u9fff]{2,4}$")
            & ~name.str.slice(-1).is_in(sorted(_CN_TITLE_ENDINGS))
            & ~name.is_in(_FAST_EXCLUDED)
            & ~name.str.contains(_traditional_class())
            & ~name.str.contains_any(list(_CN_COMPANY_WORDS))
            & (name.str.slice(1) != name.str.slice(0, name.str.len_chars() - 1))  # not one repeated character
        )
        .with_columns(
            pl.when(name.str.slice(0, 2).is_in(sorted(COMPOUND_SURNAMES)))
            .then(name.str.slice(0, 2))
            .otherwise(name.str.slice(0, 1))
            .alias("family_name")
        )
        .with_columns(name.str.slice(pl.col("family_name").str.len_chars()).alias("given_name"))
    )
    family_py = {family: surname_pinyin(family) for family in plain.get_column("family_name").unique().to_list()}
    family_soundex = {family: soundex(py) for family, py in family_py.items()}
    given_py = {given: "".join(han_syllables(given)) for given in plain.get_column("given_name").unique().to_list()}
    family_key = pl.col("family_name").replace_strict(family_py, return_dtype=pl.String)
    given_key = pl.col("given_name").replace_strict(given_py, return_dtype=pl.String)
    return plain.select(
        "__key",
        "value",
        pl.lit([], dtype=ISSUES_DTYPE).alias("issues"),
        "family_name",
        _none_if_empty(pl.col("given_name")).alias("given_name"),
        pl.lit(None, dtype=pl.String).alias("name_title"),
        _none_if_empty(pl.concat_str(family_key, given_key, separator=" ").str.strip_chars(" ")).alias("name_pinyin"),
        _none_if_empty(_key_expr(family_key, given_key)).alias("name_key"),
        pl.col("family_name").replace_strict(family_soundex, return_dtype=pl.String).alias("name_phonetic"),
    )


def _fast_western(keys: pl.Series) -> pl.DataFrame:
    """``Given Family``: two capitalised ASCII words, read in Western order (``John Smith``).

    Word facts (folded form, nickname, pinyin or not, title/suffix/company/placeholder word) are computed once
    per distinct word. Names whose words are both pinyin (``Li Na``: Chinese order rules apply), and words that
    are titles, suffixes, company words, placeholders, keyboard runs or one repeated letter are left to ``_one``.
    """
    frame = (
        pl.DataFrame({"__key": keys})
        .filter(pl.col("__key").str.contains("^[A-Z][a-z]+ [A-Z][a-z]+$"))
        .with_columns(
            pl.col("__key").str.split(" ").list.first().alias("given_name"),
            pl.col("__key").str.split(" ").list.last().alias("family_name"),
        )
    )
    words = pl.concat([frame.get_column("given_name"), frame.get_column("family_name")]).unique().to_list()
    folded = {word: word.lower() for word in words}
    unusable = [
        word for word, low in folded.items() if low in _NOT_NAME_WORDS or _is_keyboard_run(low) or len(set(low)) == 1
    ]
    pinyin = [word for word, low in folded.items() if split_syllables(low)]
    family_key = pl.col("family_name").str.to_lowercase()
    given_key = pl.col("given_name").replace_strict(
        {word: NICKNAMES.get(low, low) for word, low in folded.items()}, return_dtype=pl.String
    )
    return frame.filter(
        ~pl.col("given_name").is_in(unusable)
        & ~pl.col("family_name").is_in(unusable)
        & ~(pl.col("given_name").is_in(pinyin) & pl.col("family_name").is_in(pinyin))
        & ~pl.col("__key").str.to_lowercase().is_in(_FAST_EXCLUDED)
    ).select(
        "__key",
        pl.col("__key").alias("value"),
        pl.lit([], dtype=ISSUES_DTYPE).alias("issues"),
        "family_name",
        "given_name",
        pl.lit(None, dtype=pl.String).alias("name_title"),
        pl.concat_str(family_key, pl.col("given_name").str.to_lowercase(), separator=" ").alias("name_pinyin"),
        _key_expr(family_key, given_key).alias("name_key"),
        pl.col("family_name")
        .replace_strict({word: soundex(low) for word, low in folded.items()}, return_dtype=pl.String)
        .alias("name_phonetic"),
    )


def _key_expr(family_key: pl.Expr, given_key: pl.Expr) -> pl.Expr:
    """:func:`_key` in polars: the two keys in sorted order, concatenated."""
    return pl.when(family_key <= given_key).then(family_key + given_key).otherwise(given_key + family_key)


def _none_if_empty(text: pl.Expr) -> pl.Expr:
    return pl.when(text != "").then(text)


def _one(raw: str) -> tuple[object, ...]:
    text = clean_text(raw)
    issues: list[str] = []
    if not text.isascii() and any(unicodedata.category(c) in _SYMBOLS for c in text):
        text = collapse_whitespace("".join(c for c in text if unicodedata.category(c) not in _SYMBOLS))
        issues.append("symbols_removed")  # 张伟👍, Lily🌸: a chat nickname's emoji is not part of the name
        if not text:
            return _NOT_A_NAME
    if _looks_like_non_name(text):
        return _NOT_A_NAME
    checked = text
    if has_han(text):
        simplified = to_simplified(text)
        if simplified != text:
            issues.append("traditional")
            text = simplified
    rest, titles = _split_titles(text)
    while True:  # titles can hide behind each other: "（经理）Dr. 张", "张先生先生"; each pass shortens the text
        shorter, more = _split_titles(rest)
        if not more or len(shorter) >= len(rest):
            break
        rest, titles = shorter, titles + more
    core = _BRACKET.sub(" ", rest).strip(" ,")
    if not core or (core != checked and _looks_like_non_name(core)):  # 张张先生, "Mr. Test"
        return _NOT_A_NAME
    han = "" if core.isascii() else "".join(c for c in core if is_han(c) or _MIDDLE_DOT.fullmatch(c)).strip("·•・.．")
    han_chars = sum(1 for c in han if is_han(c))
    if han_chars:
        if _LATIN_WORD.search(_HAN_GAP.sub("", core).translate({ord(c): " " for c in han})):
            issues.append("mixed_script")
        if han_chars > 6:
            return _NOT_A_NAME
        family, given, pinyin, key = _chinese(han)
        family_key = surname_pinyin(family) if family else None
        value = _HAN_GAP.sub("", rest)
    else:
        family, given, pinyin, key, family_key = _latin(core)
        if key is None:
            return _NOT_A_NAME
        value = _recase(rest)
        if family is not None:
            family, given = _recase_parts(value, family, given)
    title = " ".join(dict.fromkeys(titles)) or None
    value = collapse_whitespace(value)
    if not value:
        return _NOT_A_NAME
    return value, issues, family, given, title, pinyin or None, key, soundex(family_key or "")


def _recase_parts(value: str, family: str, given: str | None) -> tuple[str, str | None]:
    """Family and given names spelled as they appear in the (re-cased) display value."""
    lowered = value.lower()
    if len(lowered) != len(value):  # lower-casing changed the length (İ): positions would not line up
        return family, given

    def pick(part: str) -> str:
        wanted = part.lower()
        first = at = lowered.find(wanted)
        while at >= 0:  # whole words first: "Ann" in "Joann Ann" is the second one; "Zhang" in "Zhangwei"
            end = at + len(wanted)
            if (at == 0 or not lowered[at - 1].isalpha()) and (end == len(lowered) or not lowered[end].isalpha()):
                return value[at:end]
            at = lowered.find(wanted, at + 1)
        return value[first : first + len(wanted)] if first >= 0 else part

    return pick(family), pick(given) if given else None


@register_normaliser(
    "name",
    frame=FrameSpec(
        parts=("name_title", "name_pinyin", "name_key", "name_phonetic"),
        fills={"family_name": ("family_name",), "given_name": ("given_name",)},
        # last: the family/given columns it fills are cleaned text by then, and its issues close a row's list
        after=("text", "address", "id_number"),
    ),
)
def normalise_name(values: pl.Series) -> pl.DataFrame:
    """Normalise person names (see the module docstring for the rules).

    Returns:
        A frame of the same height with ``value`` (display name without title; simplified Chinese),
        ``issues``, ``family_name``, ``given_name``, ``name_title``, ``name_pinyin``, ``name_key`` and
        ``name_phonetic``. Issue codes: ``empty``, ``not_a_name``, ``traditional``, ``mixed_script``,
        ``symbols_removed`` (emoji and other pictographs dropped from the name).
    """
    return map_distinct(values, _one, _SCHEMA, placeholder="not_a_name", fast=_fast, memo=memo_for("name"))


#: Words that make a Chinese text a business or a placeholder rather than a person's name (个人, 散户: "private").
_NOT_PERSON_WORDS = re.compile(
    "公司|厂|店|部|行|社|所|处|局|院|校|馆|站|场|中心|工作室|科技|贸易|集团|商贸|经营|门市|酒店|医院|学校|银行|超市"
    "|个人|散户|客户|私人|无|测试|演示|先生|女士|小姐"
)


def person_name_in_company(values: pl.Series) -> pl.DataFrame:
    """Which company-field values are a person's name (a consumer's own name in a mandatory 客户名称 column).

    A value counts when it is 2-4 hanzi (traditional allowed), starts with a known surname, holds no business
    or placeholder word (公司, 店, 个人, 散户 …) and reads as a name by :func:`normalise_name`.

    Returns:
        A frame of the same height: ``is_person`` (bool) and, where it is true, the name normaliser's
        ``value`` and parts (``family_name``, ``given_name``, ``name_title``, ``name_pinyin``, ``name_key``,
        ``name_phonetic``; null elsewhere).
    """
    text = values.cast(pl.String).str.replace_all(r"\s+", "")
    shaped = text.str.contains(r"^[\u3400-\u9fff]{2,4}$").fill_null(False) & ~text.str.contains(
        _NOT_PERSON_WORDS.pattern
    ).fill_null(False)
    surnames = sorted(set(COMMON_SURNAMES) | set(OTHER_SURNAMES) | set(COMPOUND_SURNAMES), key=len, reverse=True)
    candidates = pl.when(shaped).then(text)
    names = normalise_name(pl.select(candidates.alias("v"))["v"])
    starts = (
        pl.select(candidates.alias("v"))["v"]
        .map_elements(lambda v: any(to_simplified(v).startswith(s) for s in surnames), return_dtype=pl.Boolean)
        .fill_null(False)
    )
    ok = shaped & starts & names["value"].is_not_null() & names["family_name"].is_not_null()
    ok = ok & names["given_name"].is_not_null()
    cols = ("value", "family_name", "given_name", "name_title", "name_pinyin", "name_key", "name_phonetic")
    return pl.DataFrame(
        [ok.alias("is_person"), *(pl.select(pl.when(ok).then(names[c])).to_series().alias(c) for c in cols)]
    )


#: One Latin name part: display, folded key, first folded word, title.
_Part = tuple[str | None, str | None, str | None, str | None]


def _latin_part(text: str | None, *, given: bool) -> _Part:
    """One Latin name part as written in its own column: (display, folded key, first folded word, title).

    The display is re-cased when all upper or all lower; a title (Mr, Dr) is taken off the front of a given name; a
    generational suffix (Jr, Snr, III) at the end of either part stays in the display but not in the key; the key
    of a family name is its folded words joined (``van der Berg`` → ``vanderberg``), of a given name its folded
    words separated by spaces.
    """
    if text is None:
        return None, None, None, None
    cleaned = clean_text(text).strip(" ,.")
    if not cleaned or is_null_marker(cleaned):
        return None, None, None, None
    words = cleaned.split()
    title = None
    if given and len(words) > 1 and words[0].lower().rstrip(".") in WESTERN_TITLES:
        title, words = words[0], words[1:]
    display = _recase(" ".join(words))  # a generational suffix stays in the display (it tells father from son)
    if len(words) > 1 and words[-1].lower().rstrip(".") in WESTERN_SUFFIXES:
        words = words[:-1]
    # another alphabet (Иван Петров, Γιώργος, 김민준, محمد): its letters, case-folded, are the key
    folded = [fold_ascii(w) or w.casefold() for w in words]
    folded = [f for f in folded if f]
    if not folded:
        return None, None, None, title
    key = " ".join(folded) if given else "".join(folded)
    return display, key, folded[0], title


def normalise_name_parts(family: pl.Series, given: pl.Series) -> pl.DataFrame:
    """Names kept in two columns, family and given, as a person table has them: no guessing which part is which.

    Names in hanzi are normalised whole (family first: 臧 + 帆东 → 臧帆东); Latin parts are cleaned, re-cased and
    keyed one distinct part at a time (a million rows hold far fewer distinct first names and surnames than
    distinct full names). A row with a given name and no family name keeps the family key empty: its
    ``name_pinyin`` starts with a space (``" john"``), so matching reads the one word as a given name.

    Returns:
        The columns of :func:`normalise_name` (``value``, ``issues``, ``family_name``, ``given_name``,
        ``name_title``, ``name_pinyin``, ``name_key``, ``name_phonetic``), one row per input row.
    """
    frame = pl.DataFrame({"f": family.cast(pl.String), "g": given.cast(pl.String)}).with_row_index("_i")
    hanzi = pl.col("f").str.contains(r"[\u3400-\u9fff]").fill_null(False) | pl.col("g").str.contains(
        r"[\u3400-\u9fff]"
    ).fill_null(False)
    cjk = frame.filter(hanzi)
    latin = frame.filter(~hanzi)
    parts: list[pl.DataFrame] = []
    if cjk.height:
        whole = cjk.select(pl.concat_str(pl.col("f").fill_null(""), pl.col("g").fill_null("")).alias("n"))["n"]
        parts.append(pl.concat([cjk.select("_i"), normalise_name(whole)], how="horizontal"))
    if latin.height:
        parts.append(_latin_parts(latin))
    schema = {"_i": pl.UInt32, **_SCHEMA}
    columns = [pl.col(c).cast(t) for c, t in schema.items()]
    out = pl.concat([p.select(columns) for p in parts], how="vertical") if parts else pl.DataFrame(schema=schema)
    return out.sort("_i").drop("_i")


def _latin_table(values: pl.Series, *, given: bool) -> dict[str, _Part]:
    """:func:`_latin_part` of each distinct value. One ASCII word (``Smith``, ``MCDONALD``: most of a person
    table's names) is answered in polars exactly as :func:`_latin_part` would; the rest one value at a time."""
    distinct = values.drop_nulls().unique()
    one_word = distinct.str.contains(r"^[A-Za-z]+$") & ~distinct.str.to_lowercase().is_in(list(NULL_MARKERS))
    words = distinct.filter(one_word).to_frame("v")
    lower = pl.col("v").str.to_lowercase()
    titled = lower.str.slice(0, 1).str.to_uppercase() + lower.str.slice(1)
    mc = pl.when(lower.str.starts_with("mc") & (lower.str.len_chars() > 2))
    titled = mc.then("Mc" + lower.str.slice(2, 1).str.to_uppercase() + lower.str.slice(3)).otherwise(titled)
    uniform = (pl.col("v") == lower) | (pl.col("v") == pl.col("v").str.to_uppercase())
    fast = words.select("v", pl.when(uniform).then(titled).otherwise("v").alias("display"), lower.alias("key"))
    table: dict[str, _Part] = {
        v: (display, key, key, None)
        for v, display, key in zip(fast["v"].to_list(), fast["display"].to_list(), fast["key"].to_list(), strict=True)
    }
    table.update((v, _latin_part(v, given=given)) for v in distinct.filter(~one_word).to_list())
    return table


def _latin_parts(frame: pl.DataFrame) -> pl.DataFrame:
    fam = _latin_table(frame["f"], given=False)
    giv = _latin_table(frame["g"], given=True)
    firsts = {p[2] for p in giv.values() if p[2]}
    formal = {w: NICKNAMES.get(w, w) for w in firsts}
    keys = {p[1] for p in fam.values() if p[1]}
    codes = {k: soundex(k) for k in keys}

    def pick(table: Mapping[str, tuple[str | None, ...]], col: str, i: int) -> pl.Expr:
        mapping = {k: v[i] for k, v in table.items()}
        return pl.col(col).replace_strict(mapping, default=None, return_dtype=pl.String)

    out = frame.select(
        "_i",
        pick(fam, "f", 0).alias("family_name"),
        pick(giv, "g", 0).alias("given_name"),
        pick(giv, "g", 3).alias("name_title"),
        pick(fam, "f", 1).alias("_fk"),
        pick(giv, "g", 1).alias("_gk"),
        pick(giv, "g", 2).replace_strict(formal, default=None, return_dtype=pl.String).alias("_gf"),
    )
    value = pl.concat_str(pl.col("given_name"), pl.col("family_name"), separator=" ", ignore_nulls=True)
    family_key, given_key = pl.col("_fk").fill_null(""), pl.col("_gf").fill_null("")
    return out.select(
        "_i",
        _none_if_empty(value).alias("value"),
        pl.when(value == "")
        .then(pl.lit(["empty"], dtype=ISSUES_DTYPE))
        .otherwise(pl.lit([], dtype=ISSUES_DTYPE))
        .alias("issues"),
        "family_name",
        "given_name",
        "name_title",
        _none_if_empty(
            pl.concat_str(pl.col("_fk").fill_null(""), pl.lit(" "), pl.col("_gk").fill_null("")).str.strip_chars_end(
                " "
            )
        ).alias("name_pinyin"),
        _none_if_empty(_key_expr(family_key, given_key)).alias("name_key"),
        pl.col("_fk").replace_strict(codes, default=None, return_dtype=pl.String).alias("name_phonetic"),
    )
