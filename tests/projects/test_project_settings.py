"""Project settings: defaults, deep merge, and a 400 naming each bad key."""

import pytest

from apps.projects import project_settings


def test_defaults_are_complete_and_valid():
    settings = project_settings.validate({})
    assert settings["overlap"] == 1 and settings["max_overlap"] == 1
    assert settings["review_policy"] == {"mode": "none", "fraction": 0.1}
    assert settings["pay"]["currency"] == "USD"


def test_max_overlap_follows_overlap_when_not_given():
    assert project_settings.validate({"overlap": 3})["max_overlap"] == 3


def test_merge_keeps_keys_not_sent():
    base = project_settings.validate({"overlap": 2, "review_policy": {"mode": "sample", "fraction": 0.2}})
    merged = project_settings.merge(base, {"review_policy": {"fraction": 0.5}})
    assert merged["review_policy"] == {"mode": "sample", "fraction": 0.5}
    assert merged["overlap"] == 2


@pytest.mark.parametrize(
    "patch,key",
    [
        ({"overlap": 0}, "overlap"),
        ({"overlap": True}, "overlap"),
        ({"overlap": 2.5}, "overlap"),
        ({"overlap": 3, "max_overlap": 2}, "max_overlap"),
        ({"gold_rate": 1}, "gold_rate"),
        ({"gold_rate": -0.1}, "gold_rate"),
        ({"lease_seconds": 0}, "lease_seconds"),
        ({"review_policy": {"mode": "some"}}, "review_policy"),
        ({"review_policy": {"mode": "sample", "fraction": 0}}, "review_policy"),
        ({"auto_accept_confidence": 0}, "auto_accept_confidence"),
        ({"auto_accept_confidence": 1.5}, "auto_accept_confidence"),
        ({"consensus_target": float("nan")}, "consensus_target"),
        ({"show_predictions": "yes"}, "show_predictions"),
        ({"pay": {"per_accepted": 0.05}}, "pay"),
        ({"pay": {"per_accepted": "-1"}}, "pay"),
        ({"pay": {"currency": "dollars"}}, "pay"),
        ({"access": {"pools": ["a"]}}, "access"),
        ({"overlapp": 2}, "overlapp"),
    ],
)
def test_invalid_settings_name_the_key(patch, key):
    with pytest.raises(project_settings.SettingsError) as error:
        project_settings.validate(patch)
    assert key in error.value.errors


def test_auto_accept_confidence_accepts_one_and_null():
    assert project_settings.validate({"auto_accept_confidence": 1})["auto_accept_confidence"] == 1
    assert project_settings.validate({"auto_accept_confidence": None})["auto_accept_confidence"] is None
