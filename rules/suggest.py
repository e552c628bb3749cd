"""Mapping assistant: propose a canonical field for each source column, from its header and sample values.

Header evidence first: an exact Chinese or English synonym (confidence 0.95), a pinyin abbreviation of a
Chinese header as legacy systems use them (``KHMC`` 客户名称, ``SJHM`` 手机号码: 0.85), a known keyword inside
the header (``客户手机`` holds 手机: 0.7). When the header says nothing, the values do: at least 80% of the
non-blank samples must look like Chinese mobiles, landlines, emails, ID numbers, dates, person names (2–4
hanzi starting with a common surname), company names (``…有限公司``, ``Co., Ltd.``) … (0.6–0.8). A field is
given to one column only (the most confident), except ``phone`` and ``landline``, which several columns may
share (a landline column is read as a phone column; the number tells which it is). Reasons never quote sample
values (they are personal data).

`suggest_key` proposes the column that identifies a row (客户编号, KHBH, customer_id: an identifier header whose
values are all present and unique; never a row number such as 序号, which a re-export renumbers).

`render_mapping_yaml` turns the suggestions into a source block for the project YAML, with the confidence
and reason of every column as a comment and unmapped columns commented out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import yaml

from crm_store.schema import LINEAGE_COLS, RAW_LINE_COL

__all__ = [
    "MIN_SHARE",
    "KeySuggestion",
    "Suggestion",
    "render_mapping_yaml",
    "samples_from_frame",
    "suggest_from_frame",
    "suggest_key",
    "suggest_mapping",
]

#: Share of non-blank samples that must fit a value pattern.
MIN_SHARE: Final = 0.8
#: Fields several columns may map to (their values are joined): two mobile columns, two landline columns.
SHAREABLE: Final = frozenset({"phone", "landline"})

EXACT: Final = 0.95
PINYIN: Final = 0.85
KEYWORD: Final = 0.7


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The proposed canonical field of one source column (``None``: leave it unmapped, kept in attributes)."""

    column: str
    field: str | None
    confidence: float
    reason: str


@dataclass(frozen=True, slots=True)
class KeySuggestion:
    """The proposed ``key`` of a source: the column(s) whose values identify a row."""

    columns: tuple[str, ...]
    reason: str


def _key(header: str) -> str:
    """Header folded for lookup: NFKC (full-width to half-width), lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", header).strip().lower()
    return re.sub(r"[\s_\-./:：()（）\[\]【】#*]+", "", text)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Exact header synonyms, Chinese and English (compared after `_key`).
_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "company": _words(
        "客户名称 公司名称 公司 单位 单位名称 工作单位 企业名称 企业 机构 机构名称 所在单位 company companyname "
        "organisation organization org employer firm accountname corporation"
    ),
    "full_name": _words(
        "姓名 联系人 客户姓名 客户 联系人姓名 名字 会员姓名 name fullname contact contactname "
        "contactperson customername person"
    ),
    "family_name": _words("姓 姓氏 lastname surname familyname"),
    "given_name": _words("名 firstname givenname forename"),
    "phone": _words(
        "手机 手机号 手机号码 移动电话 电话 联系电话 电话号码 联系方式 phone mobile "
        "mobilephone mobileno cell cellphone tel telephone phonenumber phoneno"
    ),
    "landline": _words("座机 固定电话 办公电话 固话 家庭电话 officephone landline workphone homephone"),
    "email": _words("邮箱 电子邮件 电子邮箱 邮件 电邮 邮箱地址 email mail emailaddress mailaddress"),
    "address": _words(
        "地址 联系地址 通讯地址 详细地址 住址 家庭住址 公司地址 收货地址 address addr street streetaddress "
        "mailingaddress"
    ),
    "province": _words("省 省份 所在省份 province state"),
    "city": _words("市 城市 所在城市 地市 city town"),
    "district": _words("区 区县 县区 县 district county"),
    "postcode": _words("邮编 邮政编码 postcode zip zipcode postalcode"),
    "country": _words("国家 国家地区 country"),
    "birth_date": _words("生日 出生日期 出生年月 出生年月日 birthday dob dateofbirth birthdate"),
    "gender": _words("性别 gender sex"),
    "status": _words("状态 客户状态 status"),
    "updated_at": _words(
        "更新时间 修改时间 最后联系 最近跟进 最后跟进 最后跟进时间 最后更新 最后联系时间 updatedat updated "
        "lastupdated modified modifiedat lastmodified lastcontact lastcontacted "
        "lastcontactdate"
    ),
    "created_at": _words(
        "创建时间 创建日期 录入时间 登记时间 注册时间 建档时间 createdat created createdate "
        "creationdate signupat signupdate registeredat registrationdate"
    ),
    "notes": _words("备注 说明 附注 备注信息 notes note remark remarks comment comments memo"),
    "id_number": _words("身份证 身份证号 身份证号码 证件号码 证件号 idnumber idcard idno nationalid idcardnumber"),
    "wechat": _words("微信 微信号 wechat weixin wechatid wx"),
    "job_title": _words("职务 职位 职称 岗位 title jobtitle position"),
    "owner": _words("负责人 业务员 销售 客户经理 归属人 跟进人 owner salesrep accountmanager"),
    "segment": _words("客户等级 等级 级别 客户级别 客户类型 segment tier grade level"),
}

# Pinyin initials of Chinese headers, as legacy systems name columns: abbreviation -> (Chinese, field).
_PINYIN: Final[dict[str, tuple[str, str | None]]] = {
    "khmc": ("客户名称", "company"),
    "gsmc": ("公司名称", "company"),
    "dwmc": ("单位名称", "company"),
    "dw": ("单位", "company"),
    "qymc": ("企业名称", "company"),
    "lxr": ("联系人", "full_name"),
    "xm": ("姓名", "full_name"),
    "khxm": ("客户姓名", "full_name"),
    "lxrxm": ("联系人姓名", "full_name"),
    "sjhm": ("手机号码", "phone"),
    "sjh": ("手机号", "phone"),
    "sj": ("手机", "phone"),
    "yddh": ("移动电话", "phone"),
    "dh": ("电话", "phone"),
    "lxdh": ("联系电话", "phone"),
    "gddh": ("固定电话", "landline"),
    "bgdh": ("办公电话", "landline"),
    "dhhm": ("电话号码", "phone"),
    "dzyx": ("电子邮箱", "email"),
    "yx": ("邮箱", "email"),
    "dzyj": ("电子邮件", "email"),
    "dz": ("地址", "address"),
    "lxdz": ("联系地址", "address"),
    "txdz": ("通讯地址", "address"),
    "xxdz": ("详细地址", "address"),
    "sr": ("生日", "birth_date"),
    "csrq": ("出生日期", "birth_date"),
    "xb": ("性别", "gender"),
    "zt": ("状态", "status"),
    "khzt": ("客户状态", "status"),
    "gxsj": ("更新时间", "updated_at"),
    "xgsj": ("修改时间", "updated_at"),
    "zhlxsj": ("最后联系时间", "updated_at"),
    "cjsj": ("创建时间", "created_at"),
    "lrsj": ("录入时间", "created_at"),
    "djsj": ("登记时间", "created_at"),
    "bz": ("备注", "notes"),
    "sfzh": ("身份证号", "id_number"),
    "sfzhm": ("身份证号码", "id_number"),
    "zjhm": ("证件号码", "id_number"),
    "wxh": ("微信号", "wechat"),
    "sf": ("省份", "province"),
    "cs": ("城市", "city"),
    "qx": ("区县", "district"),
    "yb": ("邮编", "postcode"),
    "yzbm": ("邮政编码", "postcode"),
    "gj": ("国家", "country"),
    "zw": ("职务", "job_title"),
    "fzr": ("负责人", "owner"),
    "ywy": ("业务员", "owner"),
    "khjb": ("客户级别", "segment"),
    "khdj": ("客户等级", "segment"),
    # identifiers: no canonical field, kept in attributes
    "khbh": ("客户编号", None),
    "khid": ("客户ID", None),
    "bh": ("编号", None),
    "xh": ("序号", None),
    "jlbh": ("记录编号", None),
}

# Keywords inside a header, most specific field first (客户手机 is a phone, not a name).
_KEYWORDS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("id_number", ("身份证", "证件号", "idcard", "idnumber")),
    ("email", ("邮箱", "邮件", "email", "mail")),
    ("phone", ("手机", "电话", "座机", "固话", "phone", "mobile", "tel")),
    ("wechat", ("微信", "wechat", "weixin")),
    ("birth_date", ("生日", "出生", "birth")),
    ("created_at", ("创建", "录入", "注册", "登记", "created", "signup")),
    ("updated_at", ("更新", "修改", "跟进时间", "联系时间", "updated", "modified", "lastcontact")),
    ("address", ("地址", "住址", "address")),
    ("postcode", ("邮编", "postcode", "zip")),
    ("gender", ("性别", "gender")),
    ("company", ("公司", "单位", "企业", "company", "organi")),
    ("full_name", ("姓名", "联系人", "name")),
    ("status", ("状态", "status")),
    ("notes", ("备注", "remark", "note", "comment")),
    ("job_title", ("职务", "职位", "title")),
    ("owner", ("负责人", "业务员", "owner")),
    ("segment", ("等级", "级别", "segment")),
)
# Headers that are identifiers or row numbers: never a canonical field.
_IDENTIFIERS: Final = frozenset({"id", "no", "序号", "编号", "客户编号", "客户id", "customerid", "rowid", "index", "#"})

#: Identifier headers that number rows rather than name customers: a re-export renumbers them.
_ROW_NUMBERS: Final = frozenset({"no", "序号", "行号", "rowid", "index", "#", ""})

_SYNONYM_OF: Final[dict[str, str]] = {_key(s): f for f, names in _SYNONYMS.items() for s in names}

# Value patterns.
_CN_MOBILE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_CN_LANDLINE = re.compile(r"^(?:\+?86)?0\d{2,3}\d{7,8}(?:(?:ext|转|x)\d{1,5})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ID_NUMBER = re.compile(r"^[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]$")
_DATE = re.compile(
    r"^(?P<y>(?:19|20)\d{2})(?:[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?|(?P<m2>[01]\d)(?P<d2>[0-3]\d))"
    r"(?P<time>[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$"
)
_HANZI_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_COMPANY = re.compile(
    r"(?:有限公司|有限责任公司|股份公司|集团|公司|工作室|事务所|商行|厂|店)$"
    r"|(?i:\b(?:co\.?,?\s*ltd\.?|ltd\.?|inc\.?|llc|gmbh|corp\.?|limited|corporation|company)$)"
)
_GENDER_VALUES: Final = frozenset({"男", "女", "m", "f", "male", "female", "先生", "女士", "男性", "女性"})
_PROVINCES: Final = frozenset(
    _words(
        "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 "
        "海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
    )
)
_ADDRESS = re.compile(r"(?:省|市|区|县|镇|乡|路|街|道|巷|号|弄|村|楼|室|栋|单元)")
# The 100 most common Chinese surnames (simplified), for "this column holds person names".
_SURNAMES: Final = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪"
    "范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_COMPOUND_SURNAMES: Final = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯")


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _share(values: Sequence[str], test: Any) -> float:
    return sum(1 for v in values if test(v)) / len(values) if values else 0.0


def _digits_only(value: str) -> str:
    return re.sub(r"[\s\-()（）.]", "", unicodedata.normalize("NFKC", value))


def _date_parts(value: str) -> tuple[int, bool] | None:
    """(year, has a time) of a date-looking value, or ``None``."""
    match = _DATE.match(unicodedata.normalize("NFKC", value).strip())
    if not match:
        return None
    month = int(match["m"] or match["m2"])
    day = int(match["d"] or match["d2"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return int(match["y"]), match["time"] is not None


def _is_person_name(value: str) -> bool:
    text = value.strip()
    return bool(_HANZI_NAME.match(text)) and (text[0] in _SURNAMES or text.startswith(_COMPOUND_SURNAMES))


def _value_candidates(values: Sequence[str]) -> list[tuple[str, float, str]]:
    """(field, confidence, reason) from sample values alone, most confident first."""
    n = len(values)
    if n == 0:
        return []
    out: list[tuple[str, float, str]] = []

    def note(field: str, share: float, confidence: float, what: str) -> None:
        out.append((field, confidence, f"{round(share * n)} of {n} samples look like {what}"))

    mobile = _share(values, lambda v: bool(_CN_MOBILE.match(_digits_only(v))))
    landline = _share(values, lambda v: bool(_CN_LANDLINE.match(_digits_only(v))))
    if mobile >= MIN_SHARE:
        note("phone", mobile, 0.8, "Chinese mobile numbers")
    elif landline >= MIN_SHARE:
        note("landline", landline, 0.75, "Chinese landlines")
    elif mobile + landline >= MIN_SHARE:
        note("phone", mobile + landline, 0.7, "Chinese phone numbers (mobiles and landlines)")
    email = _share(values, lambda v: bool(_EMAIL.match(v.strip())))
    if email >= MIN_SHARE:
        note("email", email, 0.8, "email addresses")
    id_number = _share(values, lambda v: bool(_ID_NUMBER.match(v.strip())))
    if id_number >= MIN_SHARE:
        note("id_number", id_number, 0.8, "resident ID numbers")
    dates = [_date_parts(v) for v in values]
    date_share = sum(d is not None for d in dates) / n
    if date_share >= MIN_SHARE:
        found = [d for d in dates if d is not None]
        with_time = sum(t for _, t in found) / len(found)
        old = sum(y < 2005 for y, _ in found) / len(found)
        if with_time < 0.5 and old >= 0.5:
            note("birth_date", date_share, 0.65, "dates, mostly before 2005 without a time (birthdays)")
        else:
            note("updated_at", date_share, 0.6, "recent dates or timestamps")
    person = _share(values, _is_person_name)
    if person >= MIN_SHARE:
        note("full_name", person, 0.7, "Chinese person names (2-4 characters, common surname)")
    company = _share(values, lambda v: bool(_COMPANY.search(v.strip())))
    if company >= MIN_SHARE:
        note("company", company, 0.75, "company names (legal form at the end)")
    gender = _share(values, lambda v: v.strip().lower() in _GENDER_VALUES)
    if gender >= MIN_SHARE:
        note("gender", gender, 0.75, "genders")
    province = _share(values, lambda v: v.strip().removesuffix("省").removesuffix("市") in _PROVINCES)
    if province >= MIN_SHARE:
        note("province", province, 0.7, "province names")
    elif _share(values, lambda v: 2 <= len(v.strip()) <= 8 and v.strip().endswith("市")) >= MIN_SHARE:
        note("city", MIN_SHARE, 0.6, "city names")
    elif _share(values, lambda v: 2 <= len(v.strip()) <= 8 and v.strip().endswith(("区", "县"))) >= MIN_SHARE:
        note("district", MIN_SHARE, 0.6, "district names")
    address = _share(values, lambda v: len(v.strip()) >= 8 and len(_ADDRESS.findall(v)) >= 2)
    if address >= MIN_SHARE:
        note("address", address, 0.65, "Chinese street addresses")
    return sorted(out, key=lambda c: -c[1])


def _header_candidates(column: str) -> tuple[list[tuple[str, float, str]], str | None]:
    """(field, confidence, reason) from the header, and a reason to leave it unmapped (identifiers)."""
    key = _key(column)
    if not key:
        return [], None
    if key in _SYNONYM_OF:
        return [(_SYNONYM_OF[key], EXACT, f"header {column!r} is a known name for {_SYNONYM_OF[key]}")], None
    if key in _PINYIN:
        chinese, field = _PINYIN[key]
        if field is None:
            return [], f"header {column!r} is the pinyin abbreviation of {chinese}: an identifier, kept in attributes"
        return [(field, PINYIN, f"header {column!r} is the pinyin abbreviation of {chinese} ({field})")], None
    if _is_identifier(key):
        return [], f"header {column!r} is an identifier or row number: kept in attributes"
    tokens = set(re.findall(r"[a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column).lower()))
    for field, words in _KEYWORDS:
        for word in words:
            # Chinese and longer English keywords anywhere; short English ones as whole words (not "hotel")
            found = word in tokens if word.isascii() and len(word) < 5 else word in key
            if found:
                return [(field, KEYWORD, f"header {column!r} contains {word!r} ({field})")], None
    return [], None


def _is_identifier(key: str) -> bool:
    """Whether a folded header names an identifier or a row number (客户编号, 序号, KHBH, customer id)."""
    if key in _PINYIN:
        return _PINYIN[key][1] is None
    return key in _IDENTIFIERS or re.fullmatch(r"(?:.*(?:编号|序号)|.*\bid)", key) is not None


def suggest_key(raw: pl.DataFrame) -> KeySuggestion | None:
    """The first identifier column (not a row number) whose values are present and unique in every record read.

    Args:
        raw: Connector batches of the source (skipped and broken rows are left out).
    """
    rows = raw
    for flag in ("_skip_reason", "_error_code"):
        if flag in rows.columns:
            rows = rows.filter(pl.col(flag).is_null())
    if not rows.height:
        return None
    for column in (c for c in raw.columns if c not in LINEAGE_COLS and c != RAW_LINE_COL):
        key = _key(column)
        if not _is_identifier(key) or key in _ROW_NUMBERS or "序号" in key:
            continue
        values = rows.get_column(column).cast(pl.String).str.strip_chars()
        if values.null_count() == 0 and not (values == "").any() and values.n_unique() == rows.height:
            return KeySuggestion(
                (column,), f"header {column!r} is an identifier, present and unique in all {rows.height} rows read"
            )
    return None


def suggest_mapping(columns: list[str], samples: Mapping[str, Sequence[str | None]]) -> list[Suggestion]:
    """Propose a canonical field for every source column.

    Args:
        columns: Source column names, in order.
        samples: Column -> sample values (blanks ignored); columns without samples are judged by header only.

    Returns:
        One `Suggestion` per column, in column order. ``field`` is ``None`` when nothing fits, when the column
        is an identifier, or when a more confident column already has the field (the reason says which);
        only ``phone`` may go to several columns.
    """
    candidates: dict[str, list[tuple[str, float, str]]] = {}
    unmapped_reason: dict[str, str] = {}
    for column in columns:
        header, why_not = _header_candidates(column)
        values = [v for v in samples.get(column, ()) if v is not None and not _blank(v)]
        found = header + [c for c in _value_candidates(values) if c[0] not in {h[0] for h in header}]
        if why_not is not None:
            unmapped_reason[column] = why_not
            found = []
        candidates[column] = sorted(found, key=lambda c: -c[1])

    # Greedy: the most confident (column, field) pairs first; ties in column order.
    ranked = sorted(
        (
            (conf, -i, column, field, reason)
            for i, column in enumerate(columns)
            for field, conf, reason in candidates[column]
        ),
        key=lambda t: (-t[0], -t[1]),
    )
    chosen: dict[str, tuple[str, float, str]] = {}
    owner: dict[str, str] = {}
    lost: dict[str, str] = {}
    for conf, _, column, field, reason in ranked:
        if column in chosen:
            continue
        if field in owner and field not in SHAREABLE:
            lost.setdefault(column, f"also looks like {field}, but column {owner[field]!r} is a better fit")
            continue
        chosen[column] = (field, conf, reason)
        owner.setdefault(field, column)

    out: list[Suggestion] = []
    for column in columns:
        if column in chosen:
            field, conf, reason = chosen[column]
            out.append(Suggestion(column, field, round(conf, 2), reason))
        else:
            reason = unmapped_reason.get(column) or lost.get(column) or "no canonical field fits the header or values"
            out.append(
                Suggestion(column, None, 0.0, reason + ("" if column in unmapped_reason else "; kept in attributes"))
            )
    return out


def samples_from_frame(raw: pl.DataFrame, n: int = 200) -> tuple[list[str], dict[str, list[str]]]:
    """Source columns and up to ``n`` non-blank values of each from a raw connector batch.

    Lineage columns and ``_raw_line`` are left out, and so are skipped and broken rows.
    """
    rows = raw
    for flag in ("_skip_reason", "_error_code"):
        if flag in rows.columns:
            rows = rows.filter(pl.col(flag).is_null())
    columns = [c for c in raw.columns if c not in LINEAGE_COLS and c != RAW_LINE_COL]
    samples: dict[str, list[str]] = {}
    for c in columns:
        values = rows.get_column(c).cast(pl.String).drop_nulls()
        samples[c] = values.filter(values.str.strip_chars() != "").head(n).to_list()
    return columns, samples


def suggest_from_frame(raw: pl.DataFrame, n: int = 200) -> list[Suggestion]:
    """`suggest_mapping` over a raw connector batch (see `samples_from_frame`)."""
    return suggest_mapping(*samples_from_frame(raw, n))


def _scalar(value: object) -> str:
    """A YAML scalar in flow style (quoted only where YAML needs it)."""
    return (
        yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def render_mapping_yaml(
    source_name: str,
    kind: str,
    params: Mapping[str, Any],
    suggestions: Sequence[Suggestion],
    key: KeySuggestion | None = None,
) -> str:
    """A ``sources:`` entry for the project YAML (see config/demo.yaml) from the suggestions.

    Each mapped column carries a comment with its confidence and reason; unmapped columns are commented out
    (kept in ``attributes`` as they are), so a reviewer can enable them by removing the ``#``. A password in a
    URL parameter is replaced by ``***`` (use the connector's ``password_env`` instead). A proposed ``key``
    goes under ``params`` with its reason.

    Returns:
        YAML text: a one-item list, to paste under ``sources:``.
    """
    clean: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, str):
            value = _URL_PASSWORD.sub(r"\1***@", value)
        elif not isinstance(value, int | float | bool | list | dict) and value is not None:
            value = str(value)
        clean[name] = value
    lines = [
        "# suggested by crmkit map: review every line; unmapped columns stay in `attributes`",
        f"- name: {_scalar(source_name)}",
        f"  kind: {_scalar(kind)}",
    ]
    if clean:
        dumped = yaml.safe_dump(clean, allow_unicode=True, default_flow_style=False, sort_keys=False, width=10_000)
        lines.append("  params:")
        lines.extend(f"    {line}" for line in dumped.rstrip("\n").splitlines())
    elif key is None:
        lines.append("  params: {}")
    if key is not None:
        if not clean:
            lines.append("  params:")
        columns = key.columns[0] if len(key.columns) == 1 else list(key.columns)
        lines.append(f"    key: {_scalar(columns)}  # {key.reason}; ids stay put when rows move")
    mapped = [s for s in suggestions if s.field is not None]
    lines.append("  mapping:" if mapped else "  mapping: {}")
    keys = {s.column: _scalar(s.column) + ":" for s in suggestions}
    width = max((len(k) for k in keys.values()), default=0)
    field_width = max((len(s.field or "") for s in suggestions), default=0)
    for s in suggestions:
        reason = s.reason.replace("\n", " ")
        if s.field is not None:
            entry = f"{keys[s.column].ljust(width)} {s.field.ljust(field_width)}"
            lines.append(f"    {entry}  # {s.confidence:.2f} {reason}")
        else:
            candidate = f"# {keys[s.column].ljust(width)} {'?'.ljust(field_width)}"
            lines.append(f"    {candidate}  # unmapped: {reason}")
    return "\n".join(lines) + "\n"
