"""Tone-less pinyin helpers built on pypinyin's dictionaries, with a surname reading override table.

``lazy_pinyin`` costs about 50 µs per call (phrase segmentation), too slow for 100k distinct names. Names
are short, so :func:`han_syllables` looks the whole string up in pypinyin's phrase dictionary and otherwise
reads character by character (the first, most common reading: what ``lazy_pinyin`` does for single
characters). Longer text (company keys) goes through ``lazy_pinyin`` with a cache.
"""

from __future__ import annotations

import functools
import re

import polars as pl

from ._name_tables import SURNAME_PINYIN

_TONE_TABLE = str.maketrans(
    {
        **dict.fromkeys("āáǎà", "a"),
        **dict.fromkeys("ēéěèê", "e"),
        **dict.fromkeys("īíǐì", "i"),
        **dict.fromkeys("ōóǒò", "o"),
        **dict.fromkeys("ūúǔù", "u"),
        **dict.fromkeys("ǖǘǚǜü", "v"),
        **dict.fromkeys("ńňǹ", "n"),
        "ḿ": "m",
        "\u0304": None,
        "\u030c": None,
        "\u0300": None,
        "\u0301": None,
    }
)
#: A CJK ideograph, as a regular-expression class that Python's ``re`` and polars' regex engine both read.
HAN_CLASS = "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]"
_HAN = re.compile(HAN_CLASS)
_RUNS = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]+")
_MAX_PHRASE = 4

#: Every tone-less pinyin syllable that has a vowel (``m``, ``ng``, ``hm`` interjections left out), ü written ``v``: a
#: constant, so that telling pinyin from other Latin words never loads pypinyin's dictionaries (55 MB); a test checks
#: it against them.
_SYLLABLE_TEXT = (
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu ca cai can "
    "cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan "
    "chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia dian "
    "diao die din ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fiao fo fou "
    "fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang hao "
    "he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong "
    "jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai kuan kuang kui kun kuo la "
    "lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu lo long lou lu luan lun luo lv "
    "lve ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne "
    "nei nen neng ni nia nian niang niao nie nin ning niu nong nou nu nuan nun nuo nv nve o ou pa pai pan "
    "pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu "
    "qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen "
    "seng sha shai shan shang shao she shei shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si "
    "song sou su suan sui sun suo ta tai tan tang tao te tei teng ti tian tiao tie ting tong tou tu tuan tui "
    "tun tuo wa wai wan wang wei wen weng wo wong wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan "
    "xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng "
    "zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo "
    "zi zong zou zu zuan zui zun zuo"
)
SYLLABLES = frozenset(_SYLLABLE_TEXT.split())


@functools.cache
def _dictionaries() -> tuple[dict[int, str], dict[str, list[list[str]]]]:
    """pypinyin's character and phrase dictionaries, loaded at the first Han text (a table of Western names never
    needs them)."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    return pinyin_dict, phrases_dict


def is_han(char: str) -> bool:
    """Whether ``char`` is a CJK ideograph."""
    return "\u4e00" <= char <= "\u9fff" or _HAN.fullmatch(char) is not None


def has_han(text: str) -> bool:
    """Whether ``text`` contains a CJK ideograph."""
    return _HAN.search(text) is not None


def strip_tones(syllable: str) -> str:
    """``zhāng`` → ``zhang``, ``lǜ`` → ``lv`` (ü is written ``v``, as pypinyin's NORMAL style does)."""
    return syllable.translate(_TONE_TABLE)


@functools.cache
def char_pinyin(char: str) -> str | None:
    """The most common tone-less reading of one Han character, or ``None`` when pypinyin does not know it."""
    readings = _dictionaries()[0].get(ord(char))
    return strip_tones(readings.split(",", 1)[0]) if readings else None


def han_syllables(text: str) -> list[str]:
    """Tone-less pinyin of Han text, one item per known character, phrase-aware.

    Forward maximum matching over pypinyin's phrase dictionary (phrases of up to four characters), else the
    most common reading of each character: close to ``lazy_pinyin`` (``银行`` → yin hang, ``朝阳`` → zhao
    yang) at a fraction of its cost. Characters pypinyin does not know, and non-Han characters, are dropped.
    """
    phrases_dict = _dictionaries()[1]
    out: list[str] = []
    i = 0
    while i < len(text):
        for size in range(min(_MAX_PHRASE, len(text) - i), 1, -1):
            phrase = phrases_dict.get(text[i : i + size])
            if phrase is not None and len(phrase) == size:
                out.extend(strip_tones(readings[0]) for readings in phrase)
                i += size
                break
        else:
            reading = char_pinyin(text[i])
            if reading:
                out.append(reading)
            i += 1
    return out


def surname_pinyin(family: str) -> str:
    """Reading of a Chinese family name, using :data:`SURNAME_PINYIN` first (单 → shan, 曾 → zeng)."""
    override = SURNAME_PINYIN.get(family)
    if override is not None:
        return override
    return "".join(SURNAME_PINYIN.get(c) or char_pinyin(c) or "" for c in family)


@functools.lru_cache(maxsize=65536)
def text_pinyin(text: str) -> str:
    """Pinyin of text without spaces (``银行`` → ``yinhang``); ASCII letters and digits kept, lower-case."""
    out: list[str] = []
    for run in _RUNS.findall(text.lower()):
        out.extend(han_syllables(run) if is_han(run[0]) else [run])
    return "".join(out)


@functools.cache
def _pinyin_word() -> str:
    """A regular expression (unanchored) matching a word :func:`split_syllables` can split, apostrophes taken out:
    one syllable or more."""
    return "(?:" + "|".join(sorted(SYLLABLES, key=len, reverse=True)) + ")+"


def all_words_pinyin(texts: pl.Series) -> pl.Series:
    """Per text: whether every one of its words (at least one) is made of pinyin syllables, told in polars: a
    quick filter before :func:`split_syllables` (which also refuses words of more than 30 letters), so that a
    table of Western names leaves few texts to split."""
    word = _pinyin_word()
    plain = texts.cast(pl.String).str.to_lowercase().str.replace_all("'", "", literal=True)
    return plain.str.contains(rf"^\s*{word}(?:\s+{word})*\s*$").fill_null(False)


def split_syllables_of(words: pl.Series) -> pl.Series:
    """:func:`split_syllables` of each word (``List(String)``, null where not pinyin). The words that cannot be
    pinyin (most of a Western table's) are told apart in polars first; only the others are split in Python."""
    plain = words.cast(pl.String).str.replace_all("'", "", literal=True)
    maybe = (plain.str.contains(f"^{_pinyin_word()}$") & (plain.str.len_chars() <= 30)).fill_null(False)
    split = [split_syllables(w) if m else None for w, m in zip(words.to_list(), maybe.to_list(), strict=True)]
    return pl.Series(words.name, split, dtype=pl.List(pl.String))


@functools.lru_cache(maxsize=65536)
def split_syllables(word: str) -> tuple[str, ...] | None:
    """Split a lower-case ASCII word into pinyin syllables (fewest wins); ``None`` if it is not pinyin.

    ``zhangwei`` → ``("zhang", "wei")``, ``xian`` → ``("xian",)``, ``smith`` → ``None``. An apostrophe marks a
    syllable boundary (``xi'an``).
    """
    word = word.replace("'", "")
    if not word or len(word) > 30:
        return None
    best: list[tuple[str, ...] | None] = [None] * (len(word) + 1)
    best[0] = ()
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            if head is not None and word[start:end] in SYLLABLES:
                candidate = (*head, word[start:end])
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(word)]
