from __future__ import annotations

from rules.drift import detect_drift


def test_no_baseline_no_drift() -> None:
    assert not detect_drift(None, ["a", "b"], {}).changed


def test_new_missing_and_renamed_columns() -> None:
    drift = detect_drift(
        ["姓名", "手机", "邮箱", "备注"],
        ["姓名", "手机号", "邮箱", "微信"],
        {"姓名": "full_name", "手机": "phone", "备注": "notes"},
    )
    assert drift.renamed == [("手机", "手机号"), ("备注", "微信")]  # the second pair: same position
    assert drift.new == [] and drift.missing == []
    assert drift.mapped_missing == ["手机", "备注"]
    assert "probably renamed to '手机号'" in drift.describe()


def test_unrelated_columns_are_new_and_missing() -> None:
    drift = detect_drift(["KHBH", "KHMC", "SJHM"], ["KHBH", "KHMC", "SJHM", "YX"], {"SJHM": "phone"})
    assert drift.new == ["YX"] and drift.missing == [] and drift.renamed == []
    drift = detect_drift(["KHBH", "KHMC", "SJHM"], ["KHBH", "KHMC"], {"SJHM": "phone"})
    assert drift.missing == ["SJHM"] and drift.mapped_missing == ["SJHM"]
    assert drift.describe() == "missing column 'SJHM'"
