"""Web sign-ups: JSON Lines from the website's enquiry form, in the order they arrived.

The form changed at the start of 2022: ``mobile`` became ``phone``, ``submitted_at`` became ``created_at``
(now with a time zone), ``channel`` became ``utm_source``, and ``wechat`` and ``message`` were added. People
type their own details, so names are mostly right but e-mails carry typos (qq.con, 163.cm); impatient visitors
submit twice within minutes. Spam arrives as bot bursts (random-case names like ``BTIfyVvm``), fake people
(张三, John Doe, Mickey Mouse) and adverts (代开发票, 专业SEO优化 with a URL).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import string
from pathlib import Path
from typing import Any

from . import _render as R
from . import _vocab as V
from ._people import DAY0, WEB, WINDOWS, Person, Rec, World, date_of, weighted

#: The day the new form went live.
FORM_V2_DAY = (dt.date(2022, 1, 1) - DAY0).days
NAME_STYLES = {"plain": 86, "pinyin": 5, "english": 6, "traditional": 1, "spaced": 1, "sound_alike": 1}
COMPANY_STYLES = {
    "full": 40,
    "short": 30,
    "brand": 8,
    "city_brand": 5,
    "english": 5,
    "no_suffix": 6,
    "typo": 3,
    "wrong_suffix": 3,
}
MOBILE_STYLES = {"plain": 90, "spaced": 3, "plus86": 4, "dashed": 2, "fullwidth": 1}
#: Spam as a share of all sign-up rows, and how it splits.
SPAM_SHARE = 0.09
SPAM_KINDS = {"bot": 0.55, "fake": 0.22, "ad": 0.23}
RESUBMIT = 0.07

Fact = tuple[int, str, str]
TruthRow = tuple[str, str, str, str]
Line = tuple[dt.datetime, int, dict[str, Any], str, str, list[Fact]]  # time, order, object, entity, kind, facts


def _when(day: int, rng: random.Random) -> dt.datetime:
    hour = rng.choice((9, 10, 10, 11, 11, 14, 14, 15, 15, 16, 16, 17, 20, 21, 22, 23, 8, 13))
    return dt.datetime.combine(date_of(day), dt.time(hour, rng.randrange(60), rng.randrange(60)))


def _stamp(when: dt.datetime, v2: bool) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+08:00") if v2 else when.strftime("%Y-%m-%d %H:%M:%S")


def _form(
    v2: bool,
    name: Any,
    mobile: Any,
    email: Any,
    company: Any,
    city: Any,
    when: dt.datetime,
    channel: str,
    message: str = "",
    wechat: str | None = None,
) -> dict[str, Any]:
    if not v2:
        return {
            "name": name,
            "mobile": mobile,
            "email": email,
            "company": company,
            "city": city,
            "submitted_at": _stamp(when, False),
            "channel": channel,
        }
    obj: dict[str, Any] = {"name": name, "phone": mobile, "email": email}
    if company not in (None, ""):
        obj["company"] = company
    obj["city"] = city
    obj["wechat"] = wechat
    obj["message"] = message
    obj["created_at"] = _stamp(when, True)
    obj["utm_source"] = channel
    return obj


class SignupWriter:
    """Renders the sign-up lines of people, plus spam."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.channels = weighted(V.CHANNELS)
        self.order = 0

    def _line(self, when: dt.datetime, obj: dict[str, Any], entity: str, kind: str, facts: list[Fact]) -> Line:
        self.order += 1
        return (when, self.order, obj, entity, kind, facts)

    def person_lines(self, rec: Rec) -> list[Line]:
        rng = self.rng
        p: Person = self.world.people[rec.person]
        facts: list[Fact] = []
        when = _when(rec.day, rng)
        v2 = rec.day >= FORM_V2_DAY
        job = p.job_at(rec.day)
        company = self.world.companies[job.company] if job else None
        if p.culture != "west" and rng.random() < 0.03:
            name = p.surname + ("女士" if p.gender == "F" else "先生")  # 王先生: the form only wanted a name
        else:
            styles = NAME_STYLES if p.culture == "cn_en" else {k: v for k, v in NAME_STYLES.items() if k != "english"}
            name = R.person_name(p, rng, styles)
        number = p.borrowed if rec.borrowed and p.borrowed else p.mobile_at(rec.day)
        mobile: Any = ""
        if number is not None and (p.culture != "west" or rng.random() < 0.5):
            facts.append((p.pid, "phone", number))
            mobile = R.mobile(number, rng, MOBILE_STYLES)
            if not v2 and rng.random() < 0.1:
                mobile = int(number)  # the old form's backend stored it as a number
        elif p.foreign:
            facts.append((p.pid, "phone", "+" + p.foreign))
            mobile = R.foreign(p.foreign, p.foreign_cc, rng)
        options = ([job.email] * 2 if job and job.email else []) + ([p.email] * 2 if p.email else [])
        email_text: Any = ""
        clean_email = ""
        if options and rng.random() < 0.7:
            clean_email = rng.choice(options)
            email_text, canonical = R.email(clean_email, rng, typo=0.05)
            if canonical:
                facts.append((p.pid, "email", canonical))
        company_text: Any = ""
        if company is not None and rng.random() < 0.7:
            company_text = R.company_name(company, rng, COMPANY_STYLES)
        elif company is None and rng.random() < 0.12:
            company_text = rng.choice(("个人", "无", "-", "个人购买"))
        place = company.address if company is not None else p.home_at(rec.day)
        city: Any = None
        if place is not None and rng.random() < 0.75:
            city = R.city_name(place.city.name, place.city.province, place.city.pinyin, rng)
        channel = self.channels.pick(rng)
        wechat = None
        if v2 and number and rng.random() < 0.3:
            wechat = number if rng.random() < 0.5 else f"{p.surname_py or p.english.lower()}{rng.randrange(100, 9999)}"
        message = rng.choice(V.MESSAGES) if v2 else ""
        obj = _form(v2, name, mobile, email_text, company_text, city, when, channel, message, wechat)
        lines = [self._line(when, obj, p.entity_id, "record", facts)]
        if rng.random() < RESUBMIT:
            again = dict(obj)
            later = when + dt.timedelta(seconds=rng.randint(20, 600))
            roll = rng.random()
            if roll < 0.3 and clean_email:
                again["email"] = clean_email  # noticed the typo and sent the form again
            elif roll < 0.45 and p.culture != "west":
                again["name"] = p.surname + p.given
            elif roll < 0.55 and number:
                again["phone" if v2 else "mobile"] = number
            again["created_at" if v2 else "submitted_at"] = _stamp(later, v2)
            extra = list(facts)
            if again.get("email") == clean_email and clean_email:
                extra.append((p.pid, "email", clean_email))
            lines.append(self._line(later, again, p.entity_id, "record", extra))
        return lines

    def spam_lines(self, count: int, low: int, high: int) -> list[Line]:
        rng = self.rng
        lines: list[Line] = []
        bots = max(3, round(count * SPAM_KINDS["bot"]))
        fakes = max(2, round(count * SPAM_KINDS["fake"]))
        ads = max(2, round(count * SPAM_KINDS["ad"]))
        while bots > 0:
            size = min(bots, rng.randint(5, 25))
            start = _when(rng.randint(low, high), rng)
            for _ in range(size):
                start += dt.timedelta(seconds=rng.randint(3, 90))
                lines.append(self._line(start, self._bot(start), "", "spam", []))
            bots -= size
        for _ in range(fakes):
            when = _when(rng.randint(low, high), rng)
            name, mobile, email = rng.choice(V.FAKE_PEOPLE)
            obj = _form(
                when.date() >= date_of(FORM_V2_DAY),
                name,
                mobile,
                email,
                rng.choice(("", "测试", "test", "")),
                rng.choice(("", "北京", "测试")),
                when,
                self.channels.pick(rng),
                "测试",
            )
            lines.append(self._line(when, obj, "", "spam", []))
        for _ in range(ads):
            when = _when(rng.randint(low, high), rng)
            name, text = rng.choice(V.AD_SPAM)
            v2 = when.date() >= date_of(FORM_V2_DAY)
            mobile = rng.choice(("", "13712345678", f"1{rng.randrange(30, 90)}{rng.randrange(10**8):08d}"))
            email = rng.choice(("", f"{rng.randrange(10**8, 10**10)}@qq.com", "seo@seo-paiming88.com"))
            obj = _form(v2, name, mobile, email, text, "", when, "官网", text)
            lines.append(self._line(when, obj, "", "spam", []))
        return lines

    def _bot(self, when: dt.datetime) -> dict[str, Any]:
        rng = self.rng
        letters = string.ascii_letters

        def mash(low: int, high: int) -> str:
            return "".join(rng.choice(letters) for _ in range(rng.randint(low, high)))

        local = mash(6, 12).lower()
        if rng.random() < 0.3:
            local = ".".join(local)
        digits = f"{rng.randrange(10**9, 10**10)}"
        mobile = rng.choice((digits, f"1{digits}", "", f"+7{digits}"))
        return _form(
            when.date() >= date_of(FORM_V2_DAY),
            mash(6, 10),
            mobile,
            f"{local}@{rng.choice(V.BOT_EMAIL_DOMAINS)}",
            mash(5, 12),
            rng.choice(("", mash(4, 8))),
            when,
            "官网",
            mash(10, 30),
        )


def write_signups(path: Path, world: World, rng: random.Random) -> tuple[list[TruthRow], list[Fact]]:
    """Write the JSON Lines file; return one truth row per line and the contact facts of records."""
    writer = SignupWriter(world, rng)
    lines: list[Line] = []
    recs = sorted((r for r in world.records if r.source == WEB), key=lambda r: (r.day, r.person))
    for rec in recs:
        lines.extend(writer.person_lines(rec))
    spam = round(len(lines) * SPAM_SHARE / (1 - SPAM_SHARE))
    lines.extend(writer.spam_lines(spam, *WINDOWS[WEB]))
    lines.sort(key=lambda x: (x[0], x[1]))
    truth: list[TruthRow] = []
    facts: list[Fact] = []
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for number, (_, _, obj, entity, kind, line_facts) in enumerate(lines, 1):
            fh.write(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")) + "\n")
            truth.append((WEB, str(number), entity, kind))
            facts.extend(line_facts)
    return truth, facts
