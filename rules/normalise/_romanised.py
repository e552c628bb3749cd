"""Chinese place names written in pinyin or English (``Liaocheng``, ``Liaocheng Shi``, ``Shandong``, ``Xi'an``,
``Chaoyang District, Beijing``, ``Inner Mongolia``) read back as the Han texts they may stand for, so that crmkit's
address normaliser gives them their canonical names and GB/T 2260 codes.

No place table of its own: the keys are the pinyin of every name in the address normaliser's division table
(:mod:`._divisions`) and of the leading characters of each name (聊城 of 聊城市, 延边 of 延边朝鲜族自治州),
read with pypinyin. Whether a leading part is a name, and which unit it names, is left to the address
normaliser that reads the Han texts. Two readings per name: pypinyin's phrase-aware one (``primary``), and
every combination of each character's readings (``any reading``: 长治 is ``changzhi`` although pypinyin says
``zhangzhi``), used for a key no primary reading has, and as a second try for a text whose primary readings name
no place (``Changning, Shanghai``: pypinyin reads 长宁 ``zhangning``). The only listed names are English
exonyms that are not pinyin (Shaanxi, Inner Mongolia, Tibet, Hong Kong, Macau, Harbin, Urumqi …).

A text is read only when all of it is place names (besides level words such as City, District, Province and a
country name): ``San Francisco`` and ``London`` have no reading. Parts are tried in the order written and reversed
(``Liaocheng, Shandong`` is 山东聊城).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from typing import Final

from ._divisions import divisions

__all__ = ["han_readings"]

#: English names of Chinese places that are not their pinyin (a key here replaces the pinyin readings).
_EXONYMS: Final[dict[str, str]] = {
    "shanxi": "山西",  # Shanxi / Shaanxi: the one pinyin, two provinces
    "shanxisheng": "山西省",
    "shaanxi": "陕西",
    "shaanxisheng": "陕西省",
    "innermongolia": "内蒙古",
    "neimenggu": "内蒙古",
    "tibet": "西藏",
    "hongkong": "香港",
    "macau": "澳门",
    "macao": "澳门",
    "peking": "北京",
    "canton": "广州",
    "amoy": "厦门",
    "harbin": "哈尔滨",
    "urumqi": "乌鲁木齐",
    "hohhot": "呼和浩特",
    "lhasa": "拉萨",
    "kashgar": "喀什",
    "ordos": "鄂尔多斯",
}
#: Peoples named in the English names of autonomous units (Guangxi Zhuang Autonomous Region → Guangxi).
_PEOPLES: Final = (
    "zhuang|hui|uy?g?h?[iu]r|tibetan|korean|mongol(?:ian)?|yi|miao|tujia|dong|bouyei|buyei|hani|dai|bai|lisu|"
    "jingpo|kazakh?|qiang|naxi|tu|salar|dongxiang|kirgiz|kyrgyz|daur|ewenki|oroqen|li|she|yao|gelao|maonan|mulao"
)
#: English words around a place name: dropped, or read as the pinyin of the suffix they translate.
_ENGLISH: Final = (
    (re.compile(r"\bpeople'?s\s+republic\s+of\s+china\b|\bp\.?\s?r\.?\s?c\b\.?|\bchina\b|\bmainland\b"), " "),
    (re.compile(r"\bspecial\s+administrative\s+region\b|\bsar\b"), " "),
    (re.compile(rf"\b(?:(?:{_PEOPLES})\s+(?:and\s+)?)*autonomous\s+(?:region|prefecture|county|banner)\b"), " "),
    (re.compile(r"\bprefecture\b"), " "),
    (re.compile(r"\bprovince\b"), " sheng "),
    (re.compile(r"\b(?:city|municipality)\b"), " shi "),
    (re.compile(r"\bnew\s+(?:area|district)\b"), " xinqu "),
    (re.compile(r"\bdistrict\b"), " qu "),
    (re.compile(r"\bcounty\b"), " xian "),
    (re.compile(r"\bleague\b"), " meng "),
    (re.compile(r"\bbanner\b"), " qi "),
)
_HAN_RUN: Final = re.compile(r"[\u3400-\u9fff]+")
_PARTS: Final = re.compile(r"[\u3400-\u9fff]+|[a-z]+")
_CAMEL: Final = re.compile(r"(?<=[a-z])(?=[A-Z])")
_LATIN: Final = re.compile(r"[A-Za-z]")
#: Bounds that keep a long text cheap: segmentations of one run, combinations per reading, readings per text.
_MAX_SEGMENTATIONS: Final = 6
_MAX_COMBINATIONS: Final = 64
_MAX_READINGS: Final = 48
_MAX_KEY: Final = 40


def _fold(syllable: str) -> str:
    """``lǚ`` → ``lu``, ``zhāng`` → ``zhang``: tone marks and the diaeresis dropped."""
    return "".join(c for c in unicodedata.normalize("NFKD", syllable) if not unicodedata.combining(c))


def _keys(syllables: list[str]) -> set[str]:
    """A key and, when pypinyin wrote ü as ``v`` (``lv``), the same with ``u``: people write Lüliang as Luliang."""
    key = "".join(syllables)
    return {key, key.replace("v", "u")}


@functools.cache
def _index() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Pinyin key → the leading parts (two characters or more) of division names it reads, for the primary
    reading and for any reading. Built once, on the first romanised text (under a second)."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    names = sorted({division.name for division in divisions().values()})
    primary: dict[str, set[str]] = {}
    anyhow: dict[str, set[str]] = {}
    for full in names:
        read = lazy_pinyin(full, style=Style.NORMAL)
        if len(read) != len(full) or not all(r.isascii() and r.isalpha() for r in read):
            continue  # a character pypinyin does not know
        every = [sorted({_fold(r) for r in pinyin_dict.get(ord(c), "").split(",") if r}) or [""] for c in full]
        for size in range(2, len(full) + 1):
            head = full[:size]
            for key in _keys(read[:size]):
                primary.setdefault(key, set()).add(head)
            for combination in itertools.islice(itertools.product(*every[:size]), _MAX_COMBINATIONS):
                for key in _keys(list(combination)):
                    anyhow.setdefault(key, set()).add(head)
    return (
        {key: tuple(sorted(heads)) for key, heads in primary.items()},
        {key: tuple(sorted(heads)) for key, heads in anyhow.items()},
    )


def _candidates(key: str, any_reading: bool = False) -> tuple[str, ...]:
    """The Han texts a pinyin key may stand for: an exonym's only; else the primary readings, falling back to
    any reading for a key no primary reading has; with ``any_reading``, both."""
    if key in _EXONYMS:
        return (_EXONYMS[key],)
    primary, anyhow = _index()
    if any_reading:
        return tuple(sorted({*primary.get(key, ()), *anyhow.get(key, ())}))
    return primary.get(key) or anyhow.get(key) or ()


def _segmentations(letters: str, any_reading: bool) -> list[list[str]]:
    """Ways to cut a run of letters into pinyin keys, fewest parts first (at most ``_MAX_SEGMENTATIONS``)."""
    ways: list[list[list[str]]] = [[] for _ in range(len(letters) + 1)]
    ways[0] = [[]]
    for end in range(1, len(letters) + 1):
        found: list[list[str]] = []
        for start in range(max(0, end - _MAX_KEY), end - 1):  # a key has two syllables: two letters or more
            if ways[start] and _candidates(letters[start:end], any_reading):
                found += [[*way, letters[start:end]] for way in ways[start]]
        ways[end] = sorted(found, key=len)[:_MAX_SEGMENTATIONS]
    return ways[len(letters)]


def _prepare(text: str) -> list[str]:
    """The text's parts in order: Han runs as they are, runs of Latin letters lower-cased, accents and level
    words folded (``Liáochéng City`` → ``liaochengshi``); words joined (``Liaocheng Shi``), camel case split."""
    spaced = _CAMEL.sub(" ", text)
    folded = _fold(spaced).casefold().replace("'", "").replace("’", "")
    for pattern, replacement in _ENGLISH:
        folded = pattern.sub(replacement, folded)
    parts: list[str] = []
    for match in _PARTS.finditer(folded):
        token = match.group()
        if parts and not _HAN_RUN.match(token) and not _HAN_RUN.match(parts[-1]):
            parts[-1] += token  # a place's pinyin may be spread over words: "liao cheng shi"
        else:
            parts.append(token)
    return parts


@functools.lru_cache(maxsize=4096)
def han_readings(text: str, *, any_reading: bool = False) -> tuple[str, ...]:
    """The Han texts a place written wholly or partly in pinyin or English may stand for, most likely first.

    ``Liaocheng`` → ``("聊城",)``; ``Liaocheng, Shandong`` → ``("聊城山东", "山东聊城")`` (the order written, then
    reversed: the address normaliser reads larger units first and rejects the other); ``Fuzhou`` → 福州 and 抚州
    (the address normaliser and the caller decide). Empty when the text has no Latin letters or is not made only
    of Chinese place names (``London``, ``San Francisco``).

    ``any_reading``: every reading of every character, not only pypinyin's (a second try when the first names no
    place: pypinyin reads 长宁 ``zhangning``, so ``Changning, Shanghai`` needs it).
    """
    if not _LATIN.search(text):
        return ()
    runs = _prepare(text)
    if not runs or all(_HAN_RUN.match(run) for run in runs):
        return ()
    options: list[list[list[tuple[str, ...]]]] = []  # per run: its segmentations, each the parts' candidates
    for run in runs:
        if _HAN_RUN.match(run):
            options.append([[(run,)]])
            continue
        cuts = _segmentations(run, any_reading)
        if not cuts:
            return ()
        options.append([[_candidates(key, any_reading) for key in cut] for cut in cuts])
    readings: list[str] = []
    for choice in itertools.islice(itertools.product(*options), _MAX_SEGMENTATIONS):
        slots = [part for run_choice in choice for part in run_choice]
        for parts in itertools.islice(itertools.product(*slots), _MAX_COMBINATIONS):
            for ordered in (parts, parts[::-1]) if len(parts) > 1 else (parts,):
                reading = "".join(ordered)
                if reading not in readings:
                    readings.append(reading)
    return tuple(readings[:_MAX_READINGS])
