"""Text encoding detection and decoding that records undecodable bytes instead of failing.

Detection order: byte-order mark, UTF-16 without BOM (NUL pattern), strict UTF-8, then a score between
UTF-8, GB18030 and Big5 (share of common CJK characters, penalised by decode errors and by characters that
do not occur in Chinese customer data), and charset-normalizer when no CJK candidate reads sensibly.
"""

from __future__ import annotations

import codecs
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: Bytes looked at when scoring candidate encodings.
_SAMPLE_BYTES = 256 * 1024
#: Below this score no CJK candidate is convincing and charset-normalizer is asked.
_MIN_CJK_SCORE = 0.3
#: A CJK candidate must score this to overrule a file that happens to be valid UTF-8.
_OVERRULE_UTF8_SCORE = 1.0
#: A decode where more than this share of lines holds undecodable bytes is "nothing sensible".
MAX_BAD_LINE_SHARE = 0.2

# About 700 frequent Chinese characters (general text, surnames, given names, places, CRM words), in
# simplified and traditional forms (traditional generated with opencc s2t/s2tw/s2hk/s2twp).
_COMMON_CJK: frozenset[str] = frozenset(
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与"
    "好看学进种将还分此心前面又定见只主没公从知使点业本把性应开它合因由些外政四社义平形相全表间样关各重新线内数正反明原利比或但质气第向命变条结解问意建月系很情最立代"
    "想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接较组计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处府研信"
    "张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶苏魏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎"
    "贺顾毛郝龚邵万钱严覃武戴莫孔汤欧阳伟芳娜秀英敏静丽磊洋勇艳杰娟涛超兰霞刚桂华志红玉梅鹏飞辉玲燕德宇浩婷雪琳晨欣怡佳俊涵轩博嘉海波春晓峰亮斌鑫丹萍凤慧颖霖淑惠美珍"
    "雅琪省市县镇乡村街号楼室栋单元层巷弄广东北京津庆浙福湖南河安徽川贵州云陕甘肃青辽宁吉黑蒙古藏疆台湾香港澳门深圳杭汉客户名姓电话机邮箱址司备注男女额联职务部销售理"
    "负责状态源创更微身份证编等订价格量限股集团科技贸易服這爲來個們說國時於會後對裏過發軍無麼經當與學進種將還見沒從點業應開義間樣關線內數質氣變條結問並題黨員總設長頭"
    "資邊級圖統較組計別論運農幾區強決幹戰則據處張劉陳楊黃趙吳孫馬羅鄭謝許韓馮鄧蔣餘葉蘇呂盧鍾譚陸範賈韋鄒閆龍賀顧龔萬錢嚴湯歐陽偉靜麗豔傑濤蘭剛華紅鵬飛輝軒曉峯鳳穎縣"
    "鎮鄉號樓棟單層廣東慶貴雲陝肅遼寧臺灣門漢戶電話機郵備額聯職務銷負責狀態創證編訂價團貿為著裡説"
)

# Characters that a wrong CJK decoding produces and real customer data hardly ever holds: private use,
# kana, Greek, Cyrillic, box drawing, CJK extension A, replacement character, C1 controls.
_WEIRD = re.compile("[\ue000-\uf8ff\u3040-\u30ff\u0370-\u03ff\u0400-\u04ff\u2500-\u257f\u3400-\u4dbf\ufffd\x80-\x9f]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


@dataclass(frozen=True)
class BadBytes:
    """An undecodable byte sequence: where it is and what it was."""

    offset: int
    data: bytes
    line: int

    def describe(self, encoding: str) -> str:
        where = f"at byte offset {self.offset} (line {self.line})"
        return f"undecodable bytes {self.data!r} in {encoding} {where}"


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the encoding used, and the undecodable sequences (replaced by U+FFFD in ``text``)."""

    text: str
    encoding: str
    bad: list[BadBytes] = field(default_factory=list)
    #: Bytes skipped before decoding (a byte order mark); ``bad`` offsets count from after them.
    skipped: int = 0


_SPANS: ContextVar[list[tuple[int, int]] | None] = ContextVar("crmkit_decode_spans", default=None)


def _record_span(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    spans = _SPANS.get()
    if spans is not None:
        spans.append((exc.start, exc.end))
    return ("\ufffd", exc.end)


_ERRORS = "crmkit.connectors.record"
codecs.register_error(_ERRORS, _record_span)


def line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def decode(data: bytes, encoding: str) -> Decoded:
    """Decode ``data``; undecodable bytes become U+FFFD and are reported with their byte offset and line.

    Lines are counted as the CSV reader counts them (``\\r\\n``, ``\\n`` or ``\\r`` end a line), 1-based.
    """
    try:
        return Decoded(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        pass
    spans: list[tuple[int, int]] = []
    token = _SPANS.set(spans)
    try:
        text = data.decode(encoding, errors=_ERRORS)
    finally:
        _SPANS.reset(token)
    bad: list[BadBytes] = []
    line, pos = 1, 0
    for start, end in spans:
        # The bytes between two bad spans decoded cleanly, so they can be decoded on their own to count lines.
        line += line_breaks(data[pos:start].decode(encoding, errors="replace"))
        bad.append(BadBytes(start, data[start:end], line))
        pos = end
    return Decoded(text, encoding, bad)


def nothing_sensible(decoded: Decoded, line_count: int, bom: int = 0) -> str | None:
    """Why ``decoded`` is unusable (too many lines with undecodable bytes), or ``None`` when it is fine."""
    bad_lines = len({b.line for b in decoded.bad})
    if bad_lines <= MAX_BAD_LINE_SHARE * max(line_count, 1):
        return None
    first = decoded.bad[0]
    return (
        f"the file does not decode as {decoded.encoding}: {len(decoded.bad)} undecodable byte sequences on "
        f"{bad_lines} of {line_count} lines (first at byte offset {first.offset + bom}, line {first.line}); "
        "set `encoding` to the file's encoding"
    )


def byte_order_mark(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte-order mark at the start of ``data`` names, and the mark's length (longest first)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    return None


def _utf16_without_bom(sample: bytes) -> str | None:
    half = len(sample) // 2
    if half < 2:
        return None
    even_nul = sample[0::2].count(0) / half
    odd_nul = sample[1::2].count(0) / half
    if odd_nul > 0.3 and even_nul < 0.05:
        return "utf-16-le"
    if even_nul > 0.3 and odd_nul < 0.05:
        return "utf-16-be"
    return None


def _in_core_set(ch: str, encoding: str) -> bool:
    """Whether a CJK character is in the everyday core of its encoding: GB2312 for GB18030, the Big5
    frequently-used block (A440-C67E) for Big5. Gibberish from the wrong codec often falls outside it."""
    if encoding == "gb18030":
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            return False
        return True
    if encoding == "big5":
        try:
            code = ch.encode("big5")
        except UnicodeEncodeError:
            return False
        return len(code) == 2 and b"\xa4\x40" <= code <= b"\xc6\x7e"
    return True


def score(sample: bytes, encoding: str) -> float:
    """How much ``sample`` decoded with ``encoding`` looks like Chinese customer data (higher is better).

    Share of non-ASCII characters that are common CJK characters, minus weird characters and, twice,
    decode errors; plus a quarter of the share of CJK characters in the encoding's everyday core set (a
    tie-breaker for tiny samples). Gibberish from a wrong CJK codec spreads over thousands of rare
    characters and scores low.
    """
    text = sample.decode(encoding, errors="replace")
    chars = _NON_ASCII.findall(text)
    if not chars:
        return 1.0
    common = sum(1 for ch in chars if ch in _COMMON_CJK)
    weird = len(_WEIRD.findall(text))
    errors = text.count("\ufffd")
    cjk = [ch for ch in chars[:20_000] if "\u4e00" <= ch <= "\u9fff"]
    core = sum(_in_core_set(ch, encoding) for ch in cjk) / len(cjk) if cjk else 0.0
    return (common - weird - 2 * errors) / len(chars) + 0.25 * core


def _sample(data: bytes) -> bytes:
    if len(data) <= _SAMPLE_BYTES:
        return data
    cut = data.rfind(b"\n", 0, _SAMPLE_BYTES)
    return data[: cut + 1] if cut > 0 else data[:_SAMPLE_BYTES]


def _looks_latin(sample: bytes) -> bool:
    """Western European text in Windows-1252 (charset-normalizer misjudges short samples of it)."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    chars = _NON_ASCII.findall(text)
    latin = sum(1 for ch in chars if "\u00c0" <= ch <= "\u00ff" and ch not in "\u00d7\u00f7")
    return latin >= 0.8 * len(chars)


def _charset_normalizer_guess(sample: bytes) -> str | None:
    import charset_normalizer

    best = charset_normalizer.from_bytes(sample).best()
    return None if best is None else best.encoding


def detect(data: bytes) -> tuple[str, int]:
    """Guess the encoding of ``data``: returns the Python codec name and the length of a BOM to skip."""
    bom = byte_order_mark(data)
    if bom is not None:
        return bom
    sample = _sample(data)
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16 is not None:
        return utf16, 0
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        valid_utf8 = False
    else:
        valid_utf8 = True
    scores = {enc: score(sample, enc) for enc in ("utf-8", "gb18030", "big5")}
    best = max(scores, key=lambda enc: scores[enc])  # ties keep the first: utf-8, then gb18030
    logger.debug("encoding scores %s (valid UTF-8: %s)", scores, valid_utf8)
    if valid_utf8:
        # Short GB18030 or Big5 text can be valid UTF-8 by chance ("谢强" reads as "лǿ"): valid UTF-8
        # is overruled only when it reads as weird characters and a CJK codec reads convincingly.
        if scores["utf-8"] < 0 and scores[best] >= _OVERRULE_UTF8_SCORE:
            return best, 0
        return "utf-8", 0
    if scores[best] >= _MIN_CJK_SCORE:
        return best, 0
    if _looks_latin(sample):
        return "cp1252", 0
    guess = _charset_normalizer_guess(sample)
    logger.debug("charset-normalizer guesses %s", guess)
    if guess is None:
        return best, 0
    guess = codecs.lookup(guess).name
    if guess in ("gb2312", "gbk", "gb18030", "hz"):
        return "gb18030", 0
    if guess in ("big5", "cp950", "big5hkscs"):
        return "big5", 0
    return guess, 0


def codec_problem(encoding: str | None, exc: LookupError | UnicodeError) -> str:
    """Why a decode with a configured codec name failed before looking at the bytes: no such codec, a codec that
    is not a text encoding (``base64``, ``rot13``), or a codec that refuses everything (``undefined``)."""
    if isinstance(exc, LookupError) and str(exc).startswith("unknown encoding"):
        return f"unknown encoding {encoding!r}"
    if isinstance(exc, LookupError):
        return f"{encoding!r} is not a text encoding; set `encoding` to the file's text encoding (e.g. utf-8, gb18030)"
    return f"cannot decode the file as {encoding!r}: {exc}"


def decode_text(data: bytes, encoding: str | None = None) -> Decoded:
    """``data`` as text, in ``encoding`` or else the detected one (:func:`detect`); a byte order mark is skipped.

    Undecodable bytes become U+FFFD and are listed in ``bad``.

    Raises:
        LookupError: ``encoding`` is not a codec Python knows, or not a text encoding (`codec_problem` says which).
        UnicodeError: the codec fails whatever the bytes (``undefined``).
    """
    if encoding is not None:
        encoding = codecs.lookup(encoding).name
        skip = 3 if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8) else 0
    else:
        encoding, skip = detect(data)
    decoded = decode(data[skip:] if skip else data, encoding)
    return Decoded(decoded.text, decoded.encoding, decoded.bad, skip)
