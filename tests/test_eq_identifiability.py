"""The eq identifiability study's scores against values worked by hand."""

from __future__ import annotations

import numpy as np

from experiments.eq_identifiability import eq_scores


def test_scores_of_a_perfect_a_blind_and_a_hand_worked_listener():
    gains = np.array([-6.0, 8.0, 11.0, -12.0])
    perfect = eq_scores(np.array([0.9, 0.8, 0.7, 0.6]), np.array([0.1, 0.2, 0.3, 0.4]), gains, 0.5)
    assert perfect["auc"] == 1.0 and perfect["paired_wins"] == 1.0
    assert perfect["recall"] == 1.0 and perfect["clean_alarms"] == 0.0
    assert perfect["auc_5_7.5"] == 1.0 and perfect["auc_10_12"] == 1.0
    same = np.array([0.2, 0.6, 0.4, 0.7])
    blind = eq_scores(same, same, gains, 0.5)  # a model that cannot hear the eq: chance, whatever the guitar
    assert blind["paired_wins"] == 0.0 and abs(blind["auc"] - 0.5) < 1e-12
    assert blind["recall"] == blind["clean_alarms"] == 0.5
    # by hand: eq'd (0.3, 0.9, 0.55) vs clean (0.1, 0.5, 0.95): 0.3 beats 1 of 3, 0.9 and 0.55 beat 2 -> AUC 5/9;
    # against its own dry 0.3 > 0.1, 0.9 > 0.5, 0.55 < 0.95 -> 2/3
    worked = eq_scores(np.array([0.3, 0.9, 0.55]), np.array([0.1, 0.5, 0.95]), np.array([6.0, 11.0, -8.0]), 0.5)
    assert abs(worked["auc"] - 5 / 9) < 1e-12 and abs(worked["paired_wins"] - 2 / 3) < 1e-12
    assert abs(worked["auc_5_7.5"] - 1 / 3) < 1e-12 and abs(worked["auc_7.5_10"] - 2 / 3) < 1e-12
    assert abs(worked["recall"] - 2 / 3) < 1e-12 and abs(worked["clean_alarms"] - 2 / 3) < 1e-12
    none = eq_scores(np.array([0.3, 0.9]), np.array([0.1, 0.5]), np.array([6.0, 11.0]), 0.5)
    assert np.isnan(none["auc_7.5_10"])  # no clip in that bin: nothing to count


def test_the_studies_model_arguments():
    import pytest

    from ddspfx.errors import DdspfxError
    from experiments.evaluation.models import model_paths

    assert model_paths(["R8=", " c13 =/runs/c13"]) == {"R8": "", "c13": "/runs/c13"}
    assert model_paths([], {"shipped": ""}) == {"shipped": ""}
    for bad in (["R8"], ["=/runs/c13"], ["a=x", "a=y"]):
        with pytest.raises(DdspfxError):
            model_paths(bad)
