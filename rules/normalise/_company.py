"""Company normaliser: cleaned display name plus a brand key for matching.

The display ``value`` keeps the legal form (``聊城华兴科技有限公司``). ``company_key`` is the brand: legal
forms (有限公司, 股份有限公司, 集团, ``Co., Ltd.``, ``GmbH`` …) are dropped from the end, a leading region
(山东省, 聊城市, 聊城, ``Liaocheng``) from the front, bracketed regions (``(聊城)``) anywhere, and
punctuation and spaces everywhere; ASCII is lower-cased. Industry words (科技, 贸易, ``Technology``) stay:
they are part of how a brand is told apart. A region is not stripped when what would remain is shorter than
two characters or a bare generic word (北京银行 stays 北京银行, not 银行). ``company_key_pinyin`` is the key
in tone-less pinyin without spaces, so ``聊城华兴`` and ``Liaocheng Huaxing Co., Ltd.`` both give
``huaxing``; English industry words are written there as the pinyin of their Chinese counterpart
(:data:`EN_INDUSTRY_WORDS`: ``Technology`` → ``keji``), so ``聊城华兴科技有限公司`` and ``Liaocheng Huaxing
Technology Co., Ltd.`` both give ``huaxingkeji``.
"""

from __future__ import annotations

import functools
import re

import polars as pl

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct, memo_for, to_simplified
from ._cn_regions import (
    region_names,
    region_pinyin,
    regions_by_first_char,
    regions_by_last_char,
    short_region_names,
)
from ._pinyin import has_han, is_han, text_pinyin
from ._registry import FrameSpec, register_normaliser

_SCHEMA: Schema = {
    "value": pl.String,
    "issues": ISSUES_DTYPE,
    "company_key": pl.String,
    "company_key_pinyin": pl.String,
}

#: Chinese legal forms (and 集团), stripped from the end of the key, longest first.
CN_LEGAL_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        {"集团股份有限公司", "股份有限公司", "有限责任公司", "集团有限公司", "责任有限公司", "有限公司"}
        | {"股份公司", "总公司", "分公司", "公司", "集团", "控股集团", "有限合伙", "普通合伙", "特殊普通合伙"}
        | {"合伙企业", "个人独资企业", "个体工商户"},
        key=len,
        reverse=True,
    )
)
#: English and European legal forms as token sequences (dots removed), stripped from the end of the key.
EN_LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        {
            ("co", "ltd"),
            ("company", "limited"),
            ("company", "ltd"),
            ("co", "limited"),
            ("pty", "ltd"),
            ("pte", "ltd"),
            ("pvt", "ltd"),
            ("gmbh", "co", "kg"),
            ("limited",),
            ("ltd",),
            ("inc",),
            ("incorporated",),
            ("corp",),
            ("corporation",),
            ("llc",),
            ("gmbh",),
            ("ag",),
            ("kg",),
            ("sa",),
            ("sarl",),
            ("srl",),
            ("spa",),
            ("bv",),
            ("nv",),
            ("plc",),
            ("llp",),
            ("lp",),
            ("pty",),
            ("co",),
            ("company",),
            ("group",),
        },
        key=len,
        reverse=True,
    )
)
#: English industry words (lower-case token sequences) → the Chinese words company names use for them. The pinyin
#: key writes them in pinyin, so that the English name of a Chinese company meets its Chinese name.
EN_INDUSTRY_WORDS: dict[tuple[str, ...], str] = {
    **dict.fromkeys([("technology",), ("tech",), ("science", "and", "technology"), ("sci", "tech")], "科技"),
    **dict.fromkeys([("trading",), ("trade",)], "贸易"),
    **dict.fromkeys([("import", "and", "export"), ("import", "export"), ("imp", "exp")], "进出口"),
    **dict.fromkeys([("machinery",), ("machine",)], "机械"),
    **dict.fromkeys([("electronics",), ("electronic",)], "电子"),
    **dict.fromkeys([("electrical",), ("electric",)], "电气"),
    **dict.fromkeys([("chemical",), ("chemicals",), ("chemical", "industry")], "化工"),
    **dict.fromkeys([("pharmaceutical",), ("pharmaceuticals",), ("pharma",)], "医药"),
    **dict.fromkeys([("textile",), ("textiles",)], "纺织"),
    **dict.fromkeys([("food",), ("foods",)], "食品"),
    **dict.fromkeys([("bearing",), ("bearings",)], "轴承"),
    **dict.fromkeys([("agriculture",), ("agricultural",)], "农业"),
    **dict.fromkeys([("garment",), ("garments",), ("clothing",)], "服装"),
    **dict.fromkeys([("auto", "parts"), ("automobile", "parts"), ("auto", "accessories")], "汽车配件"),
    **dict.fromkeys([("auto",), ("automobile",), ("automotive",)], "汽车"),
    **dict.fromkeys([("material",), ("materials",)], "材料"),
    ("building", "materials"): "建材",
    ("steel", "pipe"): "钢管",
    ("steel",): "钢铁",
    ("logistics",): "物流",
    ("printing",): "印刷",
    ("packaging",): "包装",
    ("furniture",): "家具",
    ("environmental", "equipment"): "环保设备",
    ("environmental", "protection"): "环保",
    ("equipment",): "设备",
    ("software",): "软件",
    ("network",): "网络",
    ("information",): "信息",
    ("investment",): "投资",
    ("consulting",): "咨询",
    ("culture",): "文化",
    ("media",): "传媒",
    ("education",): "教育",
    ("medical",): "医疗",
    ("new", "energy"): "新能源",
    ("energy",): "能源",
    ("industrial",): "实业",
    ("international",): "国际",
    ("development",): "发展",
    ("real", "estate"): "房地产",
}
_LONGEST_INDUSTRY = max(map(len, EN_INDUSTRY_WORDS))
#: Words that are not a brand on their own: a region before them is part of the name (北京银行).
_GENERIC = frozenset(
    {"银行", "大学", "学院", "医院", "学校", "中学", "小学", "酒店", "宾馆", "饭店", "超市", "商场", "电视台"}
    | {"日报", "移动", "联通", "电信", "电力", "石油", "石化", "铁路", "航空", "证券", "保险", "科技", "贸易"}
    | {"实业", "商贸", "农商银行", "商业银行", "电气", "汽车", "钢铁", "建设", "建工", "医药", "机场", "啤酒"}
    | {"bank", "university", "college", "hospital", "school", "hotel", "airport", "airlines", "electric"}
    | {"telecom", "mobile", "insurance", "securities", "trading", "technology", "tech"}
)
_PLACEHOLDERS = frozenset({"个人", "个体", "私人", "自由职业", "test", "测试", "xxx", "company", "公司"})
_BRACKET = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]|【([^【】]*)】")
_SUFFIX_ENDINGS = frozenset(s[-1] for s in CN_LEGAL_SUFFIXES)
_EN_SUFFIX_SET = frozenset(EN_LEGAL_SUFFIXES)
_TOKEN = re.compile(r"[^\W_]+")


@functools.cache
def _region_set() -> frozenset[str]:
    return frozenset(region_names())


def _strip_cn_suffix(token: str) -> str | None:
    if token[-1:] not in _SUFFIX_ENDINGS:
        return None
    for suffix in CN_LEGAL_SUFFIXES:
        if token.endswith(suffix):
            rest = token[: -len(suffix)]
            if suffix == "分公司":  # 华兴科技有限公司聊城分公司: the branch's city goes too
                for region in regions_by_last_char().get(rest[-1:], ()):
                    if rest.endswith(region) and len(rest) > len(region):
                        rest = rest[: -len(region)]
                        break
            return rest
    return None


def _strip_en_suffix(tokens: list[str]) -> bool:
    for suffix in EN_LEGAL_SUFFIXES:
        if len(tokens) > len(suffix) and tuple(tokens[-len(suffix) :]) == suffix:
            del tokens[-len(suffix) :]
            return True
    return False


def _strip_region_prefix(tokens: list[str]) -> bool:
    first = tokens[0]
    if is_han(first[0]):
        for region in regions_by_first_char().get(first[0], ()):
            if not first.startswith(region):
                continue
            rest = first[len(region) :]
            if rest in _GENERIC:
                return False
            if len(rest) >= 2:
                tokens[0] = rest
                return True
            if not rest and len(tokens) > 1:
                tokens.pop(0)
                return True
            return False
        return False
    if len(tokens) > 1 and first in region_pinyin() and tokens[1] not in _GENERIC:
        tokens.pop(0)
        return True
    return False


def _brand_key(value: str, issues: list[str]) -> list[str]:
    """The brand's tokens (lower-case; legal forms and regions removed); joined, they are ``company_key``."""
    text = value.lower()
    for match in list(_BRACKET.finditer(text)):
        inner = next(g for g in match.groups() if g is not None).strip()
        if inner in short_region_names() or inner in _region_set() or inner.replace(" ", "") in region_pinyin():
            issues.append("region_prefix")
            text = text.replace(match.group(0), " ")
        elif _strip_cn_suffix(inner) == "" or inner in ("集团", "控股"):
            issues.append("legal_suffix")
            text = text.replace(match.group(0), " ")
    tokens = _TOKEN.findall(text.replace(".", "").replace("'", ""))
    changed = True
    while changed and tokens:
        changed = False
        last = tokens[-1]
        if is_han(last[-1]):
            rest = _strip_cn_suffix(last)
            if rest is not None:
                if rest:
                    tokens[-1] = rest
                else:
                    tokens.pop()
                issues.append("legal_suffix")
                changed = True
        elif _strip_en_suffix(tokens):
            issues.append("legal_suffix")
            changed = True
    if tuple(tokens) in _EN_SUFFIX_SET:  # "Co., Ltd." or "Ltd" alone: a legal form and no name
        issues.append("legal_suffix")
        tokens = []
    for _ in range(3):
        if not tokens or not _strip_region_prefix(tokens):
            break
        issues.append("region_prefix")
    return tokens


def _key_pinyin(tokens: list[str]) -> str:
    """The pinyin key: Han tokens in pinyin, English industry words as the pinyin of their Chinese counterpart."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for size in range(min(_LONGEST_INDUSTRY, len(tokens) - i), 0, -1):
            chinese = EN_INDUSTRY_WORDS.get(tuple(tokens[i : i + size]))
            if chinese is not None:
                out.append(text_pinyin(chinese))
                i += size
                break
        else:
            out.append(text_pinyin(tokens[i]))
            i += 1
    return "".join(out)


def _one(raw: str) -> tuple[object, ...]:
    value = clean_text(raw)
    if value.casefold() in _PLACEHOLDERS:
        return None, ["placeholder"], None, None
    issues: list[str] = []
    if has_han(value):
        simplified = to_simplified(value)
        if simplified != value:
            issues.append("traditional")
            value = simplified
    tokens = _brand_key(value, issues)
    if not tokens:
        return None, [*dict.fromkeys(issues), "invalid"], None, None
    issues = list(dict.fromkeys(issues))
    return value, issues, "".join(tokens), _key_pinyin(tokens)


@register_normaliser("company", frame=FrameSpec(parts=("company_key", "company_key_pinyin")))
def normalise_company(values: pl.Series) -> pl.DataFrame:
    """Normalise organisation names (see the module docstring for the key rules).

    Returns:
        A frame of the same height with ``value`` (cleaned display name, legal form kept), ``issues``,
        ``company_key`` (brand key) and ``company_key_pinyin``. Issue codes: ``empty``, ``placeholder``
        (个人, ``N/A``), ``invalid`` (nothing but a legal form), ``traditional``, ``legal_suffix``,
        ``region_prefix``.
    """
    return map_distinct(values, _one, _SCHEMA, placeholder="placeholder", memo=memo_for("company"))
