"""Fit the omics risk demo model: a ridge-penalised Cox model on the gene-expression profiles of the public
GSE7390 / TRANSBIG breast-cancer cohort (198 patients, 76 genes, time to distant metastasis), and export it
as plain JSON that the ai-server reads with numpy alone.

    python training/train_omics_cox.py           # train, write models/omics-cox-gse7390/1.1.0/
    python training/train_omics_cox.py --check   # retrain, exit 1 unless it reproduces manifest.json

The cross-validated C-index comes with a 95% bootstrap interval over the held-out patients. `--check` passes
when the retrained model.json is identical byte for byte to the shipped one (its sha256) and so are the
metrics, or, where it is not (other library versions or BLAS), when the C-index lies inside the interval.

scikit-survival (GPL-3) and scikit-learn are used here only, never by the running service.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sksurv.datasets import load_breast_cancer
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import concordance_index_censored

from ai_server.evaluation import BOOTSTRAP_RESAMPLES, bootstrap_interval, within

NAME = "omics-cox-gse7390"
VERSION = "1.1.0"
OUT = Path(__file__).resolve().parents[1] / "models" / NAME / VERSION
SEED = 7390
ALPHAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)  # ridge penalties tried by the inner cross-validation
FOLDS = 5
REPEATS = 5  # outer 5-fold CV repeated with 5 shuffles: one split of 198 patients is a noisy estimate
GROUPS = ("low", "intermediate", "high")
MAX_MISSING_FRACTION = 0.2
DISCLAIMERS = {
    "en": "Risk-score demo on a public breast-cancer cohort (GSE7390); not a glioma prediction, not for clinical use.",
    "ko": (
        "공개 유방암 코호트(GSE7390)로 학습한 위험도 점수 시연용 모델입니다. "
        "신경교종 예측이 아니며, 임상에 사용할 수 없습니다."
    ),
}
DISCLAIMER = DISCLAIMERS["en"]
PROBE_SYMBOLS = "probe-symbols.tsv"


def load_cohort() -> tuple[list[str], np.ndarray, np.ndarray]:
    """Gene-expression columns only (the clinical ones are not part of an expression profile)."""
    data, outcome = load_breast_cancer()
    genes = [c for c in data.columns if c.startswith("X")]
    y = np.array(list(zip(outcome["e.tdm"], outcome["t.tdm"], strict=True)), dtype=[("event", "?"), ("time", "f8")])
    return genes, data[genes].to_numpy(dtype=float), y


def fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardise on these patients, fit; returns (centre, scale, coefficients on the standardised scale)."""
    centre, scale = x.mean(axis=0), x.std(axis=0)
    model = CoxPHSurvivalAnalysis(alpha=alpha).fit((x - centre) / scale, y)
    return centre, scale, model.coef_


def score(x: np.ndarray, centre: np.ndarray, scale: np.ndarray, coef: np.ndarray) -> np.ndarray:
    return ((x - centre) / scale) @ coef


def c_index(y: np.ndarray, risk: np.ndarray) -> float:
    return float(concordance_index_censored(y["event"], y["time"], risk)[0])


def folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified by event so every fold has events to rank."""
    return list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(y, y["event"]))


def pick_alpha(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """The ridge penalty with the best mean C-index over an inner 5-fold split of these patients only."""
    means = []
    for alpha in ALPHAS:
        scores = [c_index(y[te], score(x[te], *fit(x[tr], y[tr], alpha))) for tr, te in folds(y, seed)]
        means.append(np.mean(scores))
    return ALPHAS[int(np.argmax(means))]


def group_of(risk: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """0 = low (< first cut-off), 1 = intermediate, 2 = high (>= second cut-off)."""
    return np.searchsorted(cutoffs, risk, side="right")


def cross_validate(x: np.ndarray, y: np.ndarray) -> tuple[list[float], np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Nested CV: the penalty is chosen inside each outer training fold, so the outer C-index is honest.
    Also returns each patient's risk group from the first repeat, assigned by a model that did not see them
    (the Kaplan-Meier curves drawn from in-sample groups would separate optimistically), and each outer
    fold's held-out patients with their risk scores (for the bootstrap interval)."""
    scores, groups, held_out = [], np.zeros(len(y), dtype=int), []
    for repeat in range(REPEATS):
        for tr, te in folds(y, SEED + repeat):
            centre, scale, coef = fit(x[tr], y[tr], pick_alpha(x[tr], y[tr], SEED + repeat))
            risk = score(x[te], centre, scale, coef)
            scores.append(c_index(y[te], risk))
            held_out.append((te, risk))
            if repeat == 0:
                cutoffs = np.quantile(score(x[tr], centre, scale, coef), [1 / 3, 2 / 3])
                groups[te] = group_of(risk, cutoffs)
    return scores, groups, held_out


def c_index_interval(y: np.ndarray, held_out: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, float]:
    """95% bootstrap interval of the cross-validated mean C-index over the patients: each resample draws
    patients with replacement, and every outer fold's C-index is recomputed on its held-out patients as
    drawn (a patient drawn twice counts twice), by the same fold models; a fold left without an event
    drops out of that resample's mean."""
    position = [{patient: i for i, patient in enumerate(te)} for te, _ in held_out]

    def mean_c_index(patients: np.ndarray) -> float:
        drawn = np.bincount(patients, minlength=len(y))
        scores = []
        for (te, risk), where in zip(held_out, position, strict=True):
            chosen = np.repeat(te, drawn[te])
            if chosen.size > 1 and y["event"][chosen].any():
                scores.append(c_index(y[chosen], risk[[where[p] for p in chosen]]))
        return float(np.mean(scores))

    return bootstrap_interval(np.arange(len(y)), mean_c_index, seed=SEED, resamples=BOOTSTRAP_RESAMPLES // 2)


def kaplan_meier(y: np.ndarray) -> dict:
    """Step curve starting at (0, 1): survival just after each distinct time, and the number at risk just
    before it."""
    times = np.unique(y["time"])
    at_risk = np.array([(y["time"] >= t).sum() for t in times])
    events = np.array([(y["event"] & (y["time"] == t)).sum() for t in times])
    survival = np.cumprod(1 - events / at_risk)
    return {
        "time": [0.0, *times.round(1).tolist()],
        "survival": [1.0, *survival.round(6).tolist()],
        "at_risk": [len(y), *at_risk.tolist()],
    }


def train() -> tuple[dict, dict, str]:
    """Returns (model.json content, manifest metrics and example, example-profile.csv text)."""
    genes, x, y = load_cohort()
    # One patient, drawn with the seed, is kept out of everything as the shipped example profile.
    example = int(np.random.default_rng(SEED).integers(len(y)))
    keep = np.arange(len(y)) != example
    x_example, x, y = x[example].round(6), x[keep], y[keep]  # rounded as written to example-profile.csv

    cv_scores, cv_groups, held_out = cross_validate(x, y)
    low, high = c_index_interval(y, held_out)
    alpha = pick_alpha(x, y, SEED)
    centre, scale, coef = fit(x, y, alpha)
    training_scores = np.sort(score(x, centre, scale, coef))
    cutoffs = np.quantile(training_scores, [1 / 3, 2 / 3])

    example_score = float(score(x_example, centre, scale, coef))
    model = {
        "format": "cox-linear-predictor/1",
        "description": "risk score = sum(coefficient * (value - centre) / scale); missing genes take the median",
        "features": genes,
        "coefficients": coef.tolist(),
        "centre": centre.tolist(),
        "scale": scale.tolist(),
        "medians": np.median(x, axis=0).tolist(),
        "alpha": alpha,
        "risk_groups": {
            "labels": list(GROUPS),
            "cutoffs": cutoffs.tolist(),
            "rule": "training-cohort tertiles of the risk score; a group holds [lower cut-off, upper cut-off)",
        },
        "training_scores": training_scores.tolist(),
        "km": {
            "endpoint": "distant-metastasis-free survival",
            "time_unit": "days",
            "grouping": "each training patient grouped by a cross-validated model that did not see them",
            "groups": [
                {
                    "label": label,
                    "n": int((cv_groups == i).sum()),
                    "events": int(y["event"][cv_groups == i].sum()),
                    **kaplan_meier(y[cv_groups == i]),
                }
                for i, label in enumerate(GROUPS)
            ],
        },
    }
    metrics = {
        "c_index_cv_mean": round(float(np.mean(cv_scores)), 4),
        "c_index_cv_sd": round(float(np.std(cv_scores)), 4),
        "cv": f"nested {FOLDS}-fold x {REPEATS} repeats, stratified by event; ridge penalty chosen in the inner folds",
        "n_patients": len(y),
        "n_events": int(y["event"].sum()),
        "seed": SEED,
    }
    intervals = {"c_index_cv_mean": [round(low, 4), round(high, 4)]}
    expected = {
        "file": "example-profile.csv",
        "risk_score": round(example_score, 6),
        "risk_group": GROUPS[int(group_of(np.array([example_score]), cutoffs)[0])],
        "percentile": round(100 * np.searchsorted(training_scores, example_score, side="right") / len(y), 1),
    }
    csv = "gene,value\n" + "".join(f"{g},{v:.6f}\n" for g, v in zip(genes, x_example, strict=True))
    return model, {"metrics": metrics, "metrics_ci95": intervals, "example": expected}, csv


def manifest(model_json: bytes, n_features: int, extra: dict) -> dict:
    return {
        "name": NAME,
        "version": VERSION,
        "task": "omics-risk",
        "format": "json",
        "weights": "model.json",
        "sha256": hashlib.sha256(model_json).hexdigest(),
        "input": {"kind": "expression", "features": n_features, "max_missing_fraction": MAX_MISSING_FRACTION},
        "labels": list(GROUPS),
        "metrics": extra["metrics"],
        "metrics_ci95": extra["metrics_ci95"],
        "metrics_ci": f"95% percentile bootstrap over the held-out patients, {BOOTSTRAP_RESAMPLES // 2} resamples",
        "example": extra["example"],
        "card": "card.md",
        "disclaimer": DISCLAIMERS["en"],
        "disclaimers": DISCLAIMERS,
        # gene symbols of the probe sets, a committed table (not produced by training)
        "probe_symbols": PROBE_SYMBOLS,
    }


def card(m: dict, alpha: float) -> str:
    metrics = m["metrics"]
    low, high = m["metrics_ci95"]["c_index_cv_mean"]
    return f"""# {NAME} {VERSION}

## Disclaimer
- en: {DISCLAIMERS["en"]}
- ko: {DISCLAIMERS["ko"]}

## What it is
A ridge-penalised Cox proportional-hazards model on {m["input"]["features"]} gene-expression features
(Affymetrix HG-U133A probe sets, log2 intensities as in the data; ids as the loader names them, e.g.
`X200726_at`, and the plain probe id `200726_at` is accepted too) that turns one expression profile into a risk score
(the linear predictor), a risk group (training-cohort tertiles: {", ".join(m["labels"])}) and a percentile
among the training patients. The endpoint is time to distant metastasis. Ridge penalty alpha = {alpha:g},
chosen by 5-fold cross-validation from {", ".join(f"{a:g}" for a in ALPHAS)}; features standardised with
the training mean and standard deviation.

## Data provenance
GEO GSE7390 (TRANSBIG consortium; Desmedt et al., Clin Cancer Res 2007): 198 node-negative breast-cancer
patients, 76 genes as distributed with scikit-survival's `load_breast_cancer()`, loaded at training time by
`training/train_omics_cox.py` (seed {metrics["seed"]}). The clinical columns (age, ER, grade, size) are not
used, so the input is an expression profile only. One patient, drawn with the seed, is kept out of training
and shipped as `example-profile.csv`.

## Intended use
A demonstration of the omics pipeline (upload, gene checks, imputation, risk score, Kaplan-Meier plot) on a
real public cohort. Not for clinical use. It says nothing about glioma: it is not a glioma subtype, risk or
survival prediction.

## Metrics
| | |
|---|---|
| patients / events (distant metastasis) | {metrics["n_patients"]} / {metrics["n_events"]} |
| C-index, {metrics["cv"]} \
| {metrics["c_index_cv_mean"]:.3f} (95% CI {low:.3f}-{high:.3f}; sd over folds {metrics["c_index_cv_sd"]:.3f}) |

Interval: {m["metrics_ci"]}; each resample recomputes every outer fold's C-index on its held-out patients
as drawn. `make models` retrains: the same library versions reproduce model.json byte for byte (its sha256)
and every figure exactly; elsewhere the retrained C-index must lie inside the interval and the counts must
not change. 1.1.0 is 1.0.0's model with this interval, the disclaimer in Korean and English and the gene
symbols of its probe sets (`probe-symbols.tsv`).

## Limitations
- Modest discrimination (cross-validated C-index {metrics["c_index_cv_mean"]:.2f}; 0.5 is chance) on a small
  cohort with {metrics["n_events"]} events.
- Trained on one microarray platform (Affymetrix HG-U133A) and one population; profiles from other
  platforms, normalisations or scales (RNA-seq counts, z-scores) give meaningless scores. The service checks
  gene ids and counts missing genes, but cannot check the scale of the values.
- Missing genes (up to {int(MAX_MISSING_FRACTION * 100)}% of them) take the training median, which pulls the
  score towards the cohort average.
- The Kaplan-Meier curves show the training cohort, grouped by cross-validated models; they describe that
  cohort, not the patient.
"""


def check() -> int:
    shipped = json.loads((OUT / "manifest.json").read_text())
    problems = []
    if hashlib.sha256((OUT / "model.json").read_bytes()).hexdigest() != shipped["sha256"]:
        problems.append("model.json does not match the sha256 in manifest.json")
    model, extra, _ = train()
    identical = hashlib.sha256(model_bytes(model)).hexdigest() == shipped["sha256"]
    print(f"retrained model.json {'identical to' if identical else 'differs from'} the shipped one")
    new, old, intervals = extra["metrics"], shipped["metrics"], shipped.get("metrics_ci95") or {}
    if identical:
        # the same model from the same data: every figure must come out the same, the interval too once shipped
        changed = [key for key in old if new[key] != old[key]]
        problems += [f"{key}: {new[key]} from an identical model, manifest {old[key]}" for key in changed]
        if intervals and extra["metrics_ci95"] != intervals:
            problems.append(f"95% intervals {extra['metrics_ci95']} from an identical model, manifest {intervals}")
    elif not intervals:
        problems.append("the retrained model differs and the manifest has no interval to compare it with")
    else:
        for key, interval in intervals.items():
            if not within(new[key], interval):
                problems.append(f"{key}: retrained {new[key]}, outside the manifest's 95% interval {interval}")
        for key in ("n_patients", "n_events"):
            if new[key] != old[key]:
                problems.append(f"{key}: retrained {new[key]}, manifest {old[key]}")
    for line in problems or [f"{NAME} {VERSION}: metrics reproduce ({new}, 95% CI {extra['metrics_ci95']})"]:
        print(line)
    return 1 if problems else 0


def model_bytes(model: dict) -> bytes:
    return (json.dumps(model, indent=1) + "\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="retrain and compare with manifest.json")
    if parser.parse_args().check:
        return check()
    model, extra, csv = train()
    model_json = model_bytes(model)
    m = manifest(model_json, len(model["features"]), extra)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "model.json").write_bytes(model_json)
    (OUT / "manifest.json").write_text(json.dumps(m, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (OUT / "card.md").write_text(card(m, model["alpha"]), encoding="utf-8")
    (OUT / "example-profile.csv").write_text(csv)
    print(f"wrote {OUT}: {m['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
