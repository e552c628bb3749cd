"""The project file a consultant writes for the hand-over after reading crmkit's README.

Every column is mapped the way its header reads; columns with no canonical field (the old customer number,
fax, QQ, the deleted flag, the sign-up channel) are left unmapped and kept in ``attributes``.
"""

from __future__ import annotations

from . import _workbook as W

LEGACY_MAPPING: tuple[tuple[str, str, str], ...] = (
    ("KHMC", "company", "客户名称 (consumers: their own name, or 个人/散户)"),
    ("LXR", "full_name", "联系人"),
    ("ZW", "job_title", "职务"),
    ("XB", "gender", "性别, coded below"),
    ("CSRQ", "birth_date", "出生日期"),
    ("SJ", "phone", "手机"),
    ("DH", "phone", "电话: a landline or a second mobile"),
    ("DZYX", "email", "电子邮箱"),
    ("SF", "province", "省份"),
    ("CS", "city", "城市"),
    ("DZ", "address", "地址"),
    ("YB", "postcode", "邮编"),
    ("KHJB", "segment", "客户级别"),
    ("YWY", "owner", "业务员"),
    ("ZT", "status", "状态, coded below"),
    ("BZ", "notes", "备注"),
    ("CJSJ", "created_at", "创建时间"),
    ("GXSJ", "updated_at", "更新时间"),
)
SIGNUP_MAPPING: tuple[tuple[str, str, str], ...] = (
    ("name", "full_name", ""),
    ("mobile", "phone", "form until 2021"),
    ("phone", "phone", "form since 2022"),
    ("email", "email", ""),
    ("company", "company", ""),
    ("city", "city", ""),
    ("wechat", "wechat", "form since 2022"),
    ("message", "notes", "form since 2022"),
    ("submitted_at", "created_at", "form until 2021"),
    ("created_at", "created_at", "form since 2022"),
)


def _key(text: str) -> str:
    return f'"{text}"' if any(ch in text for ch in ":#{}[],&*?|<>=!%@`'\"/") else text


def _lines(pairs: list[tuple[str, str, str]], indent: str) -> list[str]:
    def width(text: str) -> int:  # CJK characters take two columns in an editor
        return len(text) + sum(ord(ch) > 0x2E80 for ch in text)

    keys = [_key(k) for k, _, _ in pairs]
    pad = max(width(k) for k in keys) + 2
    value_pad = max(len(f) for _, f, _ in pairs) + 2
    out = []
    for key, (_, field, comment) in zip(keys, pairs, strict=True):
        line = f"{indent}{key}:{' ' * (pad - width(key) - 1)}{field}"
        out.append(f"{line}{' ' * (value_pad - len(field))}# {comment}" if comment else line)
    return out


def workbook_mapping() -> list[tuple[str, str, str]]:
    """Every header of every sheet that has a canonical field, once, in sheet order."""
    seen: dict[str, tuple[str, str, str]] = {}
    for sheet in W.SHEETS:
        for header, what in sheet.columns:
            target = W.FIELDS[what]
            if target is not None and header not in seen:
                comment = {
                    "landline": "several columns may map to one field",
                    "phone": "mobile, landline or both",
                    "email_qq": "sometimes only a QQ number",
                    "region": "地区: a city name",
                }.get(what, "")
                seen[header] = (header, target, comment)
    return list(seen.values())


def render_config(legacy_file: str, workbook_file: str, signups_file: str) -> str:
    """The project YAML over the three files (paths relative to the YAML's folder)."""
    unmapped = sorted({h for s in W.SHEETS for h, w in s.columns if W.FIELDS[w] is None})
    lines = [
        "# crmkit project: customer data handed over by a 聊城 SME (legacy CRM database, the sales reps' workbook,",
        "# the website's sign-up form). Run:  crmkit migrate crmkit.yaml --dry-run",
        "",
        "project: handover",
        "",
        "store:",
        "  url: sqlite:///crm.db          # relative to this file",
        "reports_dir: reports             # report.html + report.json per run",
        "",
        "defaults:",
        "  region: CN                     # numbers without a country code are Chinese",
        "  date_order: ymd",
        "  timezone: Asia/Shanghai",
        "",
        "sources:",
        "  # The old in-house CRM (2010-2020): one table, pinyin-abbreviation columns. Not mapped, kept in",
        "  # attributes: KHBH (old customer number, the key), KHLX (客户类型 1 company / 2 person), CZ (fax), QQ,",
        "  # SCBZ (deleted flag: the system set ZT=9 at the same time, so the skip rule below reads ZT).",
        "  - name: legacy_db",
        "    kind: sql",
        "    params:",
        f"      url: sqlite:///{legacy_file}   # NB: unlike params.path, a SQLite URL is opened relative to the",
        "      table: KHXX                      # folder crmkit is started from: run crmkit from this folder",
        "      key: KHBH",
        "    mapping:",
        *_lines(list(LEGACY_MAPPING), "      "),
        "    codes:",
        "      gender: {1: male, 2: female}",
        "      status: {1: active, 2: inactive, 9: deleted}",
        "    skip:",
        "      deleted: {status: [deleted]}",
        "",
        "  # The sales reps' workbook: one sheet per rep, each with its own headers; title rows, blank rows and",
        f"  # 合计 rows are the connector's business. Unmapped, kept in attributes: {', '.join(unmapped)}.",
        "  - name: sales_workbook",
        "    kind: xlsx",
        f"    as_of: {W.FIXED_TIME.date().isoformat()}  # kept current to the day it was saved; rows carry no dates",
        f"    params: {{path: {workbook_file}}}",
        "    mapping:",
        *_lines(workbook_mapping(), "      "),
        "",
        "  # Web sign-ups, one JSON object per line; the form changed in 2022 (both key sets are mapped).",
        "  # channel / utm_source stay in attributes.",
        "  - name: web_signups",
        "    kind: jsonl",
        f"    params: {{path: {signups_file}}}",
        "    mapping:",
        *_lines(list(SIGNUP_MAPPING), "      "),
        "",
        "rules:",
        "  require_any: [[full_name, company, phone, email]]",
        "  spam: true",
        "",
        "match:",
        "  threshold: 0.9",
        "  review_threshold: 0.5",
        "",
    ]
    return "\n".join(lines)
