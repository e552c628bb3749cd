"""The answer key: hard-negative pairs (different people who look alike) and one row per person.

A value-sharing pair is listed only when the value really shows on a record row of each person (a switchboard
both colleagues' rows carry, a mobile on both the old and the new owner's rows), so every pair listed is a trap
a matcher can actually fall into. Relations that do not need a shared value (households, fathers and sons of
one name, namesakes) are listed from the world.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from ._people import World

Fact = tuple[int, str, str]

#: Hard-negative kinds, in the order the file lists them.
KINDS: tuple[str, ...] = (
    "colleague_switchboard",
    "colleague_role_email",
    "colleague_domain",
    "assistant_mobile",
    "household",
    "father_son",
    "recycled_mobile",
    "same_name",
    "same_name_colleague",
)
HARD_NEGATIVE_COLUMNS = ("entity_a", "entity_b", "kind")
ENTITY_COLUMNS = (
    "entity_id",
    "kind",
    "culture",
    "name",
    "gender",
    "birth_date",
    "birth_shown",
    "city",
    "companies",
    "household",
    "rows",
    "mobile_now",
    "emails",
    "company_now",
)


def hard_negatives(world: World, facts: Iterable[Fact]) -> list[tuple[str, str, str]]:
    """Every pair of different people of one hard-negative kind, as ``(entity_a, entity_b, kind)``, sorted."""
    pairs: dict[tuple[int, int, str], None] = {}

    def add(a: int, b: int, kind: str) -> None:
        if a != b:
            pairs[(min(a, b), max(a, b), kind)] = None

    shown: dict[tuple[str, str], dict[int, None]] = {}
    for pid, kind, value in facts:
        shown.setdefault((kind, value), {})[pid] = None
    domains = {c.domain: c.cid for c in world.companies if c.domain}
    on_domain: dict[str, dict[int, None]] = {}
    people = world.people
    for (kind, value), holders in shown.items():
        if kind == "email" and value not in world.role_emails:
            domain = value.rpartition("@")[2]
            if domain in domains:
                on_domain.setdefault(domain, {}).update(holders)
        if len(holders) < 2:
            continue
        members = list(holders)
        if kind == "phone":
            role = world.landlines.get(value)
            owners = world.mobile_owners.get(value, [])
            for a, b in combinations(members, 2):
                if role is not None:
                    add(a, b, "household" if role[0] == "home" else "colleague_switchboard")
                elif a in owners and b in owners:
                    add(a, b, "recycled_mobile")
                else:
                    borrower = b if a in owners else a
                    add(a, b, people[borrower].borrowed_kind or "household")
        elif value in world.role_emails:
            for a, b in combinations(members, 2):
                add(a, b, "colleague_role_email")
        else:  # one personal mailbox used by two people: a family
            for a, b in combinations(members, 2):
                add(a, b, "household")
    for holders in on_domain.values():
        for a, b in combinations(list(holders), 2):
            add(a, b, "colleague_domain")
    for members in world.households.values():
        for a, b in combinations(members, 2):
            add(a, b, "household")
    family = {(min(a, b), max(a, b)) for a, b in world.father_son}
    for a, b in sorted(family):
        add(a, b, "father_son")
    by_name: dict[str, list[int]] = {}
    for p in people:
        by_name.setdefault(p.name, []).append(p.pid)
    for members in by_name.values():
        if len(members) < 2:
            continue
        by_city: dict[str, list[int]] = {}
        for pid in members:
            by_city.setdefault(_city(world, pid), []).append(pid)
        for group in by_city.values():
            for a, b in combinations(group, 2):
                if (min(a, b), max(a, b)) in family:
                    continue
                shared = {j.company for j in people[a].jobs} & {j.company for j in people[b].jobs}
                add(a, b, "same_name_colleague" if shared else "same_name")
    order = {k: i for i, k in enumerate(KINDS)}
    return [
        (people[a].entity_id, people[b].entity_id, kind)
        for a, b, kind in sorted(pairs, key=lambda x: (people[x[0]].entity_id, people[x[1]].entity_id, order[x[2]]))
    ]


def _city(world: World, pid: int) -> str:
    p = world.people[pid]
    if p.jobs:
        return world.companies[p.jobs[0].company].city.name
    city = p.city
    return city.name if city else ""


def _now(world: World, pid: int) -> tuple[str, str, str]:
    """(mobile, own e-mail addresses, registered company name) as they are on the person's newest record row:
    the truth a golden record is measured against."""
    p = world.people[pid]
    days = [r.day for r in p.records if r.kind == "record"]
    if not days:
        return "", "", ""
    day = max(days)
    job = p.job_at(day) if p.kind == "b2b" else None
    emails = [e for e in (p.email, *(j.email for j in p.jobs)) if e]
    return p.mobile_at(day) or "", " | ".join(emails), world.companies[job.company].name if job else ""


def entity_rows(world: World, counts: dict[str, int]) -> list[tuple[str, ...]]:
    """One row per person: who they are, where they work(ed), how many record rows they have (``counts``), and
    their mobile, own e-mail addresses and company as of their newest record row."""
    rows: list[tuple[str, ...]] = []
    for p in world.people:
        companies = " | ".join(world.companies[j.company].name for j in p.jobs)
        rows.append(
            (
                p.entity_id,
                p.kind,
                p.culture,
                p.name,
                p.gender,
                p.birth.isoformat(),
                "1" if p.birth_known else "0",
                _city(world, p.pid),
                companies,
                "" if p.household is None else f"H{p.household + 1:05d}",
                str(counts.get(p.entity_id, 0)),
                *_now(world, p.pid),
            )
        )
    return rows
