"""The omics risk pipeline on the shipped GSE7390 model and its held-out example profile. Expected values are
recomputed here from model.json by hand, and checked against what scikit-survival predicted at training time
(manifest.json "example")."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_context import FakeContext
from PIL import Image

from ai_server.pipelines.base import InvalidJob, JobFailed
from ai_server.pipelines.omics_risk import OmicsRiskPipeline, probe_symbols
from ai_server.registry import LoadedModel, load_model_directory

MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "omics-cox-gse7390" / "1.1.0"
MANIFEST = json.loads((MODEL_DIR / "manifest.json").read_text())
MODEL = json.loads((MODEL_DIR / "model.json").read_text())
EXAMPLE = dict(
    line.split(",") for line in (MODEL_DIR / "example-profile.csv").read_text().splitlines()[1:]
)  # gene -> value text
JOB = {"job_id": "job-1", "input": {"kind": "expression", "bucket": "ai-artifacts", "key": "inputs/p.csv"}}


def loaded_model() -> LoadedModel:
    """What the registry hands a pipeline."""
    return load_model_directory(MODEL_DIR, "cpu")


def run(text: str, job: dict = JOB):
    ctx = FakeContext(data=text.encode())
    return OmicsRiskPipeline().run(job, loaded_model(), ctx), ctx


def long_csv(values: dict[str, str], sep: str = ",") -> str:
    return f"gene{sep}value\n" + "".join(f"{g}{sep}{v}\n" for g, v in values.items())


def expected(values: dict[str, float]) -> tuple[float, str, float]:
    """Risk score, group and percentile straight from model.json, medians for absent genes."""
    x = np.array([values.get(f, m) for f, m in zip(MODEL["features"], MODEL["medians"], strict=True)])
    risk = float(np.dot(MODEL["coefficients"], (x - np.array(MODEL["centre"])) / np.array(MODEL["scale"])))
    low, high = MODEL["risk_groups"]["cutoffs"]
    group = "low" if risk < low else "intermediate" if risk < high else "high"
    percentile = 100 * sum(s <= risk for s in MODEL["training_scores"]) / len(MODEL["training_scores"])
    return risk, group, percentile


def test_example_profile_scores_as_in_training():
    outcome, ctx = run((MODEL_DIR / "example-profile.csv").read_text())
    risk, group, percentile = expected({g: float(v) for g, v in EXAMPLE.items()})
    m = outcome.metrics

    assert m["risk_score"] == pytest.approx(risk, abs=1e-4)
    assert m["risk_score"] == pytest.approx(MANIFEST["example"]["risk_score"], abs=1e-4)  # scikit-survival's
    assert m["risk_group"] == group == MANIFEST["example"]["risk_group"]
    assert m["percentile"] == pytest.approx(percentile, abs=0.05)
    assert m["percentile"] == MANIFEST["example"]["percentile"]
    assert (m["n_features_used"], m["imputed_genes"], m["ignored_genes"]) == (76, [], [])
    assert m["c_index_cv"] == MANIFEST["metrics"]["c_index_cv_mean"]
    assert [g["label"] for g in m["km"]["groups"]] == ["low", "intermediate", "high"]

    contributions = {
        f: c * (float(EXAMPLE[f]) - mu) / sd
        for f, c, mu, sd in zip(MODEL["features"], MODEL["coefficients"], MODEL["centre"], MODEL["scale"], strict=True)
    }
    ranked = sorted(contributions, key=lambda f: abs(contributions[f]), reverse=True)[:10]
    assert [g["gene"] for g in m["top_genes"]] == ranked
    assert [g["contribution"] for g in m["top_genes"]] == pytest.approx([contributions[f] for f in ranked], abs=1e-4)
    assert min(contributions[f] for f in ranked) < 0 < max(contributions[f] for f in ranked)  # signed, both ways
    symbols = probe_symbols(MODEL_DIR, MANIFEST["probe_symbols"])
    assert [g["probe"] for g in m["top_genes"]] == [f.removeprefix("X") for f in ranked]
    assert [g["symbol"] for g in m["top_genes"]] == [symbols.get(f.removeprefix("X")) for f in ranked]

    assert outcome.disclaimer == MANIFEST["disclaimer"]
    assert "glioma" in outcome.disclaimer and group in outcome.summary
    assert ctx.read == [("ai-artifacts", "inputs/p.csv")]
    assert ctx.stages == ["fetch", "preprocessing", "forward", "postprocessing", "writing"]
    assert ctx.progressed[-1] == ("writing", 1.0)
    assert {a.name for a in outcome.artifacts} == set(ctx.artifacts) == {"km-plot", "input-summary"}


def test_the_probe_symbol_table_covers_exactly_the_models_probes():
    table = (MODEL_DIR / MANIFEST["probe_symbols"]).read_text(encoding="utf-8").splitlines()
    assert any("GPL96" in line for line in table if line.startswith("#"))  # the source is named
    rows = [line.split("\t") for line in table if not line.startswith("#")]
    assert rows[0] == ["probe_id", "symbol"] and all(len(row) == 2 for row in rows)
    assert [row[0] for row in rows[1:]] == [f.removeprefix("X") for f in MODEL["features"]]
    symbols = probe_symbols(MODEL_DIR, MANIFEST["probe_symbols"])
    assert symbols["202240_at"] == "PLK1" and "200726_at" in symbols
    assert all(symbol.isupper() or symbol[0].isupper() for symbol in symbols.values())
    assert probe_symbols(MODEL_DIR, None) == {}


def test_km_plot_is_a_png():
    _, ctx = run((MODEL_DIR / "example-profile.csv").read_text())
    filename, data, content_type = ctx.artifacts["km-plot"]
    assert (filename, content_type) == ("km-plot.png", "image/png")
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG" and image.size == (750, 500)
    assert len(np.unique(np.asarray(image.convert("L")))) > 10  # curves and text, not a blank canvas


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(long_csv(EXAMPLE, "\t"), id="tsv"),
        pytest.param(",".join(EXAMPLE) + "\n" + ",".join(EXAMPLE.values()) + "\n", id="wide-csv"),
        pytest.param(
            "sample\t" + "\t".join(EXAMPLE) + "\nP-17\t" + "\t".join(EXAMPLE.values()) + "\n", id="wide-tsv-named"
        ),
        pytest.param("," + ",".join(EXAMPLE) + "\n0," + ",".join(EXAMPLE.values()) + "\n", id="wide-pandas-index"),
        pytest.param(long_csv({g.removeprefix("X"): v for g, v in EXAMPLE.items()}), id="plain-probe-ids"),
        pytest.param("\ufeff" + long_csv(EXAMPLE).replace("\n", "\r\n"), id="excel-bom-crlf"),
    ],
)
def test_layouts_give_the_same_score(text: str):
    outcome, _ = run(text)
    assert outcome.metrics["risk_score"] == pytest.approx(MANIFEST["example"]["risk_score"], abs=1e-4)
    assert outcome.metrics["n_features_used"] == 76


def test_few_missing_genes_are_imputed_and_listed():
    values = dict(EXAMPLE)
    dropped = MODEL["features"][5:8]
    for gene in dropped:
        del values[gene]
    values[MODEL["features"][20]] = "NA"
    values["X999999_at"] = "7.5"  # not a model gene

    outcome, ctx = run(long_csv(values))
    present = {g: float(v) for g, v in values.items() if g in MODEL["features"] and v != "NA"}
    risk, group, _ = expected(present)
    m = outcome.metrics
    assert m["risk_score"] == pytest.approx(risk, abs=1e-4)
    assert m["risk_group"] == group
    assert m["imputed_genes"] == [*dropped, MODEL["features"][20]]
    assert (m["n_features_used"], m["ignored_genes"], m["n_ignored_genes"]) == (72, ["X999999_at"], 1)
    summary = json.loads(ctx.artifacts["input-summary"][1])
    assert summary["imputed_genes"] == m["imputed_genes"] and summary["ignored_genes"] == ["X999999_at"]
    assert "4 of 76 genes imputed" in outcome.summary


def test_too_many_missing_genes_fail_with_the_reason():
    missing = MODEL["features"][:23]  # 30%
    with pytest.raises(JobFailed, match=r"23 of the model's 76 genes are missing .*at most 20%") as failure:
        run(long_csv({g: v for g, v in EXAMPLE.items() if g not in missing}))
    assert missing[0] in str(failure.value) and "and 18 more" in str(failure.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(long_csv({**EXAMPLE, "X200726_at": "high"}), "X200726_at is not a number", id="non-numeric"),
        pytest.param(long_csv({**EXAMPLE, "X200726_at": "inf"}), "X200726_at is infinite", id="infinite"),
        pytest.param(long_csv(EXAMPLE) + "X200726_at,11.0\n", "X200726_at appears more than once", id="duplicate"),
        pytest.param(long_csv(EXAMPLE) + "200726_at,11.0\n", "X200726_at appears more than once", id="alias-twice"),
        pytest.param(
            ",".join(EXAMPLE) + "\n" + (",".join(EXAMPLE.values()) + "\n") * 2, "holds 2 samples", id="two-samples"
        ),
        pytest.param("gene,value\nX200726_at\n", "row 2 of the expression profile is not 'gene,value'", id="ragged"),
        pytest.param("", "empty", id="empty"),
        pytest.param("X200726_at\n", "at least two columns", id="one-column"),
    ],
)
def test_unusable_profiles_fail_with_the_reason(text: str, reason: str):
    with pytest.raises(JobFailed, match=reason):
        run(text)


def test_binary_upload_fails():
    ctx = FakeContext(data=b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(JobFailed, match="not a text file"):
        OmicsRiskPipeline().run(JOB, loaded_model(), ctx)


def test_a_job_without_an_expression_input_is_invalid():
    with pytest.raises(InvalidJob, match="expression profile"):
        run("", {"job_id": "job-1", "input": {"kind": "dicom-study", "study_instance_uid": "1.2.3"}})


@pytest.mark.parametrize("broken", [{k: v for k, v in MODEL.items() if k != "km"}, {**MODEL, "medians": [1.0]}])
def test_a_malformed_model_is_an_invalid_job(broken: dict):
    model = loaded_model()
    model.artifact = broken
    with pytest.raises(InvalidJob, match="omics model is malformed"):
        OmicsRiskPipeline().run(JOB, model, FakeContext(data=(MODEL_DIR / "example-profile.csv").read_bytes()))


def test_runtime_imports_neither_scikit_survival_nor_scikit_learn():
    code = (
        "import json, sys; from pathlib import Path\n"
        "from ai_server.pipelines.omics_risk import CoxModel, km_plot\n"
        f"doc = json.loads(Path({str(MODEL_DIR / 'model.json')!r}).read_text())\n"
        "km_plot(CoxModel.from_json(doc).km, 'high', 'demo')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sksurv', 'sklearn', 'pandas', 'torch')))\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    assert result.stdout.strip() == "[]"
