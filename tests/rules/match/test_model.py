from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from rules.match import MatchModel, MatchResult, MatchSettings, build_comparisons, match, prob_to_weight, weight_to_prob
from rules.match.model import _em, session_comparisons
from rules.match.settings import BlockingRule

from .conftest import PEOPLE_CONFIG


def test_probability_and_weight_are_inverse() -> None:
    for p in (1e-6, 0.1, 0.5, 0.9, 0.999):
        assert weight_to_prob(prob_to_weight(p)) == pytest.approx(p)
    assert prob_to_weight(0.5) == 0.0
    assert np.allclose(weight_to_prob(np.array([0.0, 3.0])), [0.5, 8 / 9])


def test_no_level_becomes_a_veto_by_accident(crm_model: MatchModel, people_trained: MatchResult) -> None:
    for model in (crm_model, people_trained.model):
        floor = MatchSettings().training.m_floor
        for c in model.comparisons:
            assert min(c.m) >= floor * 0.99, (c.name, c.m)
            assert sum(c.m) == pytest.approx(1.0)
            assert sum(c.related) == pytest.approx(1.0)


def test_every_comparison_with_data_is_trained(crm_model: MatchModel, people_trained: MatchResult) -> None:
    # the person table has no phone or e-mail; its name and birth date are still estimated, by sessions that do
    # not block on them (or by a training-only session)
    model = people_trained.model
    estimated = {name for s in model.sessions for name in s["estimated"]}
    assert {"name", "birth_date", "address"} <= estimated
    assert model.untrained == []
    assert {"name", "phone", "email", "company"} <= {n for s in crm_model.sessions for n in s["estimated"]}


def test_sessions_leave_out_what_their_rule_reads(crm_model: MatchModel) -> None:
    comparisons = MatchSettings().comparisons
    from rules.match import build_comparisons

    built = build_comparisons(MatchSettings())
    by_phone = [built[i].name for i in session_comparisons(BlockingRule(on=("_mobiles",)), built)]
    assert "phone" not in by_phone and "name" in by_phone
    by_name_dob = [built[i].name for i in session_comparisons(BlockingRule(on=("name_key", "_dob")), built)]
    assert "name" not in by_name_dob and "birth_date" not in by_name_dob and "phone" in by_name_dob
    assert len(comparisons) == len(built)


def test_the_model_learns_who_is_related_not_only_who_matches(crm_model: MatchModel) -> None:
    name = crm_model.comparison("name")
    # matches agree on the name; related people (colleagues, relatives) mostly do not
    assert name.m[name.levels.index("exact")] > 0.5
    assert name.m[name.levels.index("else")] < 0.1
    assert name.related[name.levels.index("else")] > 0.3
    company = crm_model.comparison("company")
    assert company.related[company.levels.index("exact")] > 0.3  # colleagues share their company
    assert 0 < crm_model.prior < 0.01
    assert crm_model.prior_related > 0
    frame = crm_model.to_frame()
    assert frame.columns == ["comparison", "level", "m", "u", "r", "weight", "tf_adjusted"]


def test_the_related_share_of_one_exact_name_is_bounded() -> None:
    """Related people are colleagues and relatives, who rarely share a name. A session on e-mail local parts pairs
    namesakes (zhangwei88 at qq.com and at 163.com); at 330k hand-over records EM put them in the related class,
    its share of exact names rose from 0.8% to 4%, and one person's records at one company and street, the mobile
    changed, fell under the threshold as 'two colleagues' (F1 0.936 -> 0.914). The name's exact and same-key
    levels carry a ceiling that EM holds the related class under."""
    name = next(c for c in build_comparisons(MatchSettings()) if c.name == "name")
    ceilings = name.r_ceilings
    assert ceilings is not None
    bounded = {name.labels[i]: float(c) for i, c in enumerate(ceilings) if np.isfinite(c)}
    assert set(bounded) == {"exact", "same_key"} and max(bounded.values()) <= 0.02
    # EM on two comparisons (name: exact / else; company: exact / else) whose related class starts at half exact names
    pats = np.array([[1, 1, 0], [1, 2, 0], [2, 1, 0], [2, 2, 0]])
    counts = np.array([300.0, 3000.0, 3000.0, 100000.0])
    starts = ([np.array([0.9, 0.1]), np.array([0.8, 0.2])], [np.array([0.5, 0.5]), np.array([0.8, 0.2])])
    u = [np.array([0.001, 0.999]), np.array([0.001, 0.999])]
    training = MatchSettings().training
    free = _em(pats, counts, starts, u, training, pats[:, -1] == 1, [True, False])
    held = _em(
        pats, counts, starts, u, training, pats[:, -1] == 1, [True, False], r_ceilings=[np.array([0.015, np.inf]), None]
    )
    assert free.r[0][0] > 0.1 and held.r[0][0] <= 0.015 + 1e-12


def test_model_round_trips_through_json(
    crm_model: MatchModel, crm_trained: MatchResult, crm_sample: pl.DataFrame
) -> None:
    text = crm_model.to_json()
    again = MatchModel.from_json(text)
    assert again == crm_model
    assert json.loads(again.to_json()) == json.loads(text)
    rescored = match(crm_sample.drop("entity_id"), MatchSettings(), model=again)
    assert rescored.pairs.equals(crm_trained.pairs)
    with pytest.raises(ValueError, match="version"):
        MatchModel.from_json(text.replace('"version": 3', '"version": 99'))


def test_a_model_must_fit_the_settings(crm_model: MatchModel, crm_sample: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="do not match"):
        match(crm_sample.drop("entity_id").head(50), MatchSettings(comparisons=["name", "phone"]), model=crm_model)


def test_term_frequency_makes_a_common_name_count_less(crm_trained: MatchResult, crm_sample: pl.DataFrame) -> None:
    counts = crm_sample.group_by("name_key").len("count")
    exact = (
        crm_trained.pairs.filter(pl.col("name_level") == "exact")
        .join(crm_sample.select(pl.col("_rid").alias("left"), "name_key"), on="left")
        .join(counts, on="name_key")
    )
    assert exact["count"].n_unique() > 1
    rare = exact.filter(pl.col("count") == exact["count"].min())["name_weight"].max()
    common = exact.filter(pl.col("count") == exact["count"].max())["name_weight"].max()
    assert common < rare


def test_term_frequency_makes_a_common_address_count_less(
    people_trained: MatchResult, people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]
) -> None:
    """A household's shared address says more where few records give it: the same-street level is adjusted by
    the address's frequency, as a name's is (with one u for every address it weighed the same in a suburb's
    register as in a country's)."""
    counts = people[0].group_by("street").len("count")
    same = (
        people_trained.pairs.filter(pl.col("address_level") == "same_street")
        .join(people[0].select(pl.col("_rid").alias("left"), "street"), on="left")
        .join(counts, on="street")
    )
    assert same["count"].n_unique() > 1
    rare = same.filter(pl.col("count") == same["count"].min())["address_weight"].max()
    common = same.filter(pl.col("count") == same["count"].max())["address_weight"].max()
    assert common < rare


def test_costly_levels_estimate_u_from_a_subsample(people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    """The string-similarity levels (and those after them) see a subsample of the random pairs; the cheap levels
    before them see every pair, so their u do not move, and the subsample's u agree with the full sample's."""

    def u_of(fuzzy_pairs: int) -> dict[str, list[float]]:
        training = PEOPLE_CONFIG.match.training.model_copy(
            update={"u_sample_pairs": 100_000, "u_fuzzy_pairs": fuzzy_pairs, "em_iterations": 3}
        )
        settings = PEOPLE_CONFIG.match.model_copy(update={"training": training})
        return {c.name: list(c.u) for c in match(people[0].head(2000), settings).model.comparisons}

    full, thinned = u_of(100_000), u_of(50_000)
    name = build_comparisons(PEOPLE_CONFIG.match)
    for comparison in name:
        if comparison.name not in full:
            continue
        costly = comparison.first_costly or len(comparison.levels) + 1
        a, b = np.array(full[comparison.name]), np.array(thinned[comparison.name])
        assert b.sum() == pytest.approx(1.0)
        assert np.allclose(a[: costly - 1], b[: costly - 1], rtol=1e-9), comparison.name  # every pair: unchanged
        if costly <= len(a):  # a Poisson count of ≥ 50,000 × u pairs: within five standard errors
            tolerance = 5 * np.sqrt(a[costly - 1 :] / 50_000) + 2e-5
            assert np.all(np.abs(a[costly - 1 :] - b[costly - 1 :]) <= tolerance), (comparison.name, a, b)
    assert any(c.first_costly for c in name)


def test_a_comparison_without_term_frequencies_keeps_its_costly_levels() -> None:
    """Leaving a comparison out of ``tf_adjust`` drops its term frequencies, not the subsampling of its string
    similarity levels (the address's fuzzy street was once scored on every random pair)."""
    with_tf = {c.name: c for c in build_comparisons(MatchSettings())}
    training = MatchSettings().training.model_copy(update={"tf_adjust": []})
    for comparison in build_comparisons(MatchSettings(training=training)):
        levels = comparison.levels
        assert all(level.tf is None for level in levels)
        assert [level.costly for level in levels] == [level.costly for level in with_tf[comparison.name].levels]
    assert with_tf["address"].first_costly == 1


def test_class_shares_are_what_the_scored_pairs_add_up_to(
    crm_trained: MatchResult, people_trained: MatchResult
) -> None:
    """λm and λr are the expected shares of matches and of related pairs among all N·(N−1)/2 pairs, by the
    likelihoods the scoring gives each candidate pair (u adjusted by term frequency). Shares estimated with one u
    per level drift from them: at a million records the related class fell to 10⁻²² and twins merged."""
    for result in (crm_trained, people_trained):
        model, pairs = result.model, result.pairs
        total = model.n_records * (model.n_records - 1) / 2
        p = pairs["match_probability"].cast(pl.Float64)
        related = (1 - p) * (1 - 2 ** pairs["related_weight"].cast(pl.Float64))
        assert model.prior_related > 0
        assert p.sum() / total == pytest.approx(model.prior, rel=0.01)
        assert related.sum() / total == pytest.approx(model.prior_related, rel=0.01)


def test_samples_of_the_big_sets_of_pairs_give_the_priors_all_of_them_give(
    people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
    people_trained: MatchResult,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a big table, each big set of pairs (one same set of rules proposed them; the loose rules' own pairs are one
    set) is sampled past ``loose_pairs``: each sampled pair stands for the ones left out in the EM sessions and the
    class priors, which barely move; the rest are compared only when the samples say they hold links worth
    finding."""
    full = people_trained
    settings = PEOPLE_CONFIG.match.model_copy(update={"loose_pairs": 5_000})
    assert match(people[0], settings).pairs.height == full.pairs.height  # a small table: every pair compared

    monkeypatch.setattr("rules.match.engine.LOOSE_SAMPLE_RECORDS", 1_000)
    thinned = match(people[0], settings)
    assert thinned.model.prior == pytest.approx(full.model.prior, rel=0.02)
    assert thinned.model.prior_related == pytest.approx(full.model.prior_related, rel=0.1)
    assert thinned.pairs.height < full.pairs.height - 5_000  # the sample found no links to speak of: left out
    # the sets whose samples hold links are compared in full: the links left out are few (the samples allow 0.1%)
    threshold = settings.threshold
    links = full.pairs.filter(pl.col("match_probability") >= threshold).select("left", "right")
    kept = thinned.pairs.select("left", "right")
    assert links.join(kept, on=["left", "right"], how="anti").height <= 0.005 * links.height
    # what each rule proposed, counted through the samples: exactly, but for the loose rules, which share one sample
    trained = {rule.name for rule in thinned.model.blocking_rules() if rule.train}
    assert len(trained & set(thinned.blocking["rule"])) >= 5
    counted = zip(thinned.blocking["rule"], thinned.blocking["pairs"], full.blocking["pairs"], strict=True)
    for rule, got, want in counted:
        assert got == pytest.approx(want, abs=1) if rule in trained else got == pytest.approx(want, rel=0.2)
    assert thinned.blocking_recall == pytest.approx(full.blocking_recall, abs=0.01)

    monkeypatch.setattr("rules.match.engine.LOOSE_MATCH_SHARE", 0.0)  # any link counts: compared after all
    again = match(people[0], settings)
    assert again.pairs.height == full.pairs.height
    assert again.model.prior_related == thinned.model.prior_related
