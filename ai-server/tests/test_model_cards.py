"""Model cards that reproduce and say the same in both languages: deterministic training, bootstrap
intervals, and the shipped cards' disclaimers in English and Korean."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ai_server.evaluation import bootstrap_interval, weights_digest, within
from ai_server.registry import load_model_directory

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(path.parent for path in (ROOT / "models").glob("*/*/manifest.json"))


def training_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "training" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def torch_settings():
    """Training switches torch to deterministic kernels on one thread: give the other tests theirs back."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.set_num_threads(threads)


def test_two_short_trainings_give_identical_weights_and_another_seed_does_not(torch_settings):
    mri = training_script("train_mri_demo")
    tiny = {"steps": 2, "batch": 1, "patch": (32, 32, 32)}
    first, _ = mri.train(5, **tiny)
    second, _ = mri.train(5, **tiny)
    other, _ = mri.train(6, **tiny)
    assert weights_digest(first) == weights_digest(second)
    pairs = zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert weights_digest(other) != weights_digest(first)
    assert torch.are_deterministic_algorithms_enabled() and torch.get_num_threads() == mri.THREADS


def test_weights_digest_sees_a_change_of_one_weight():
    net = torch.nn.Linear(3, 2)
    before = weights_digest(net)
    with torch.no_grad():
        net.weight[0, 0] += 1e-6
    assert weights_digest(net) != before


def test_bootstrap_interval_holds_the_estimate_narrows_with_more_cases_and_repeats():
    rng = np.random.default_rng(1)
    few, many = rng.normal(0.8, 0.1, 20), rng.normal(0.8, 0.1, 200)
    low, high = bootstrap_interval(few, seed=3)
    assert low < few.mean() < high and (low, high) == bootstrap_interval(few, seed=3)
    many_low, many_high = bootstrap_interval(many, seed=3)
    assert many_high - many_low < (high - low) * 0.6  # ~ 1/sqrt(10) of the width, with room for chance
    # the normal-theory interval of the mean is close to the bootstrap one for normal data
    half = 1.96 * many.std(ddof=1) / np.sqrt(len(many))
    assert many_low == pytest.approx(many.mean() - half, abs=0.006)
    assert many_high == pytest.approx(many.mean() + half, abs=0.006)


def test_bootstrap_interval_of_a_median_and_of_constant_cases():
    values = [*range(1, 21), 1000.0]
    low, high = bootstrap_interval(values, np.median, seed=0)
    assert 1.0 <= low <= 11.0 <= high <= 20.0  # one outlier among 21 cases does not drag a median's interval
    assert bootstrap_interval([0.5] * 10, seed=0) == (0.5, 0.5)
    assert within(0.5, (0.5, 0.5)) and not within(0.51, (0.4, 0.5))
    with pytest.raises(ValueError):
        bootstrap_interval([1.0], seed=0)


def test_bootstrap_interval_of_a_statistic_over_case_indices():
    pairs = np.array([[1, 1], [2, 2], [3, 1], [4, 5]])

    def agreement(cases):
        return float(np.mean(pairs[cases, 0] == pairs[cases, 1]))

    low, high = bootstrap_interval(np.arange(len(pairs)), agreement, seed=0)
    assert 0.0 <= low <= 0.5 <= high <= 1.0


@pytest.mark.parametrize("directory", SHIPPED, ids=lambda path: f"{path.parent.name}-{path.name}")
def test_every_shipped_card_gives_its_disclaimer_in_english_and_korean(directory):
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    card = (directory / "card.md").read_text(encoding="utf-8")
    texts = manifest["disclaimers"]
    assert set(texts) == {"en", "ko"} and manifest["disclaimer"] == texts["en"]
    assert all(f"- {code}: {text}" in card for code, text in texts.items()), "the card and the manifest differ"
    assert "임상에 사용할 수 없습니다" in texts["ko"] and "not for clinical use" in texts["en"]
    assert load_model_directory(directory, "cpu").disclaimers == texts


def test_the_omics_disclaimer_names_the_real_cohort_in_both_languages():
    manifest = json.loads((ROOT / "models" / "omics-cox-gse7390" / "1.1.0" / "manifest.json").read_text())
    english, korean = manifest["disclaimers"]["en"], manifest["disclaimers"]["ko"]
    assert "GSE7390" in english and "breast-cancer" in english and "synthetic" not in english.lower()
    assert "GSE7390" in korean and "유방암" in korean and "합성" not in korean  # not "trained on synthetic data"
    assert "신경교종" in korean  # says it is no glioma prediction


def test_the_mri_card_states_each_metric_with_its_interval():
    manifest = json.loads((ROOT / "models" / "mri-lesion-demo" / "1.1.0" / "manifest.json").read_text())
    card = (ROOT / "models" / "mri-lesion-demo" / "1.1.0" / "card.md").read_text(encoding="utf-8")
    for key, (low, high) in manifest["metrics_ci95"].items():
        assert low <= manifest["metrics"][key] <= high, key
        assert f"{manifest['metrics'][key]} ({low}-{high})" in card, key
    assert manifest["metrics"]["threads"] == 1 and manifest["weights_digest"] in card


def test_a_manifest_with_one_english_disclaimer_still_gives_it(tmp_path):
    source = ROOT / "models" / "omics-cox-gse7390" / "1.1.0"
    for name in ("model.json", "card.md"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    manifest = json.loads((source / "manifest.json").read_text())
    del manifest["disclaimers"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert load_model_directory(tmp_path, "cpu").disclaimers == {"en": manifest["disclaimer"]}
