"""Omics risk: one uploaded expression profile -> the penalised Cox model's risk score, risk group and
percentile among the training cohort, the genes that weigh most, and a Kaplan-Meier plot of the training
cohort's risk groups. The model is plain JSON (training/train_omics_cox.py), so this runs on numpy alone,
with matplotlib for the plot; scikit-survival (GPL-3) stays at training time."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ai_server.pipelines.base import ArtifactFile, InvalidJob, JobContext, JobFailed, Outcome

TOP_GENES = 10
NAMED = 5  # gene ids named in an error message or summary before "and N more"
LISTED = 50  # ignored gene ids listed in the metrics; the input summary lists them all
MISSING_CELLS = {"", "na", "nan", "n/a", "null"}  # an empty cell is a missing value: imputed like an absent gene
COLOURS = ("tab:green", "tab:orange", "tab:red", "tab:purple", "tab:brown")


@dataclass(frozen=True)
class CoxModel:
    """model.json as arrays: risk score = sum(coefficient * (value - centre) / scale)."""

    features: list[str]
    coefficients: np.ndarray
    centre: np.ndarray
    scale: np.ndarray
    medians: np.ndarray
    labels: list[str]
    cutoffs: np.ndarray
    training_scores: np.ndarray  # sorted
    km: dict[str, Any]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CoxModel:
        """An admin's problem, not the clinician's: a registered model without the fields is an invalid job."""
        try:
            arrays = {k: np.asarray(doc[k], dtype=float) for k in ("coefficients", "centre", "scale", "medians")}
            features, km, scores = doc["features"], doc["km"], doc["training_scores"]
            labels, cutoffs = doc["risk_groups"]["labels"], np.asarray(doc["risk_groups"]["cutoffs"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidJob(f"the omics model is malformed: {exc!r}") from None
        if any(len(a) != len(features) for a in arrays.values()) or len(labels) != len(cutoffs) + 1:
            raise InvalidJob("the omics model is malformed: its arrays do not match its feature list or risk groups")
        return cls(
            features=list(features),
            labels=list(labels),
            cutoffs=cutoffs,
            training_scores=np.sort(np.asarray(scores, dtype=float)),
            km=km,
            **arrays,
        )

    def lookup(self) -> dict[str, str]:
        """Accepted gene id -> feature. The training data names Affymetrix probes the R way (X200726_at);
        a profile from other tools names them 200726_at."""
        ids = {f.removeprefix("X"): f for f in self.features}
        ids.update({f: f for f in self.features})
        return ids

    def group(self, risk: float) -> str:
        """Groups hold [lower cut-off, upper cut-off), as in training."""
        return self.labels[int(np.searchsorted(self.cutoffs, risk, side="right"))]

    def percentile(self, risk: float) -> float:
        """Share of the training cohort with a risk score lower than or equal to this one."""
        return 100 * int(np.searchsorted(self.training_scores, risk, side="right")) / len(self.training_scores)


@dataclass
class Profile:
    values: dict[str, float]  # gene id as uploaded -> value; NaN for an empty cell
    layout: str  # "gene,value rows" or "one row, genes as columns"
    delimiter: str


@dataclass
class Matched:
    x: np.ndarray  # in the model's feature order, training medians where missing
    imputed: list[str]
    ignored: list[str]


def _number(cell: str, gene: str) -> float:
    if cell.lower() in MISSING_CELLS:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        raise JobFailed(f"the value of gene {gene} is not a number: {cell[:30]!r}") from None
    if math.isinf(value):
        raise JobFailed(f"the value of gene {gene} is infinite")
    return value


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _named(ids: list[str]) -> str:
    more = f" and {len(ids) - NAMED} more" if len(ids) > NAMED else ""
    return ", ".join(ids[:NAMED]) + more


def parse_profile(data: bytes, known: dict[str, str]) -> Profile:
    """CSV or TSV, either gene,value rows (with a header) or one sample as one row under a header of gene
    ids, optionally led by a sample-name column. `known` tells a gene id from a header or a label."""
    try:
        text = data.decode("utf-8-sig")  # Excel writes a byte-order mark
    except UnicodeDecodeError:
        raise JobFailed("the expression profile is not a text file (expected CSV or TSV)") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise JobFailed("the expression profile is empty")
    delimiter = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
    rows = [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    if len(rows[0]) < 2:
        raise JobFailed("the expression profile needs at least two columns, separated by commas or tabs")

    if len(rows[0]) == 2:
        body = rows if rows[0][0] in known else rows[1:]  # a header unless it already names a model gene
        pairs = []
        for number, row in enumerate(body, start=len(rows) - len(body) + 1):
            if len(row) != 2 or not row[0]:
                raise JobFailed(f"row {number} of the expression profile is not 'gene,value': {row[:3]}")
            pairs.append((row[0], row[1]))
        layout = "gene,value rows"
    else:
        header, samples = rows[0], rows[1:]
        if len(samples) != 1:
            raise JobFailed(
                f"the expression profile holds {len(samples)} samples; expected exactly one, as gene,value rows"
                " or as one row under a header of gene ids"
            )
        (sample,) = samples
        if len(sample) != len(header):
            raise JobFailed(f"the expression profile has {len(header)} column names but {len(sample)} values")
        # A leading sample-name column: unnamed (pandas writes its index so) or a name that is no number.
        if not header[0] or (header[0] not in known and not _is_number(sample[0])):
            header, sample = header[1:], sample[1:]
        if not all(header):
            raise JobFailed("the expression profile has a column without a gene id")
        pairs = list(zip(header, sample, strict=True))
        layout = "one row, genes as columns"

    values: dict[str, float] = {}
    for gene, cell in pairs:
        if gene in values:
            raise JobFailed(f"gene {gene} appears more than once in the expression profile")
        values[gene] = _number(cell, gene)
    if not values:
        raise JobFailed("the expression profile has no values")
    return Profile(values, layout, "tab" if delimiter == "\t" else "comma")


def match(profile: Profile, model: CoxModel, max_missing_fraction: float) -> Matched:
    """Model genes in feature order; missing ones take the training median, unknown ones are ignored."""
    known = model.lookup()
    found: dict[str, float] = {}
    ignored = []
    for gene, value in profile.values.items():
        feature = known.get(gene)
        if feature is None:
            ignored.append(gene)
        elif feature in found:  # X200726_at and 200726_at: the same probe twice
            raise JobFailed(f"gene {feature} appears more than once in the expression profile (as {gene} too)")
        else:
            found[feature] = value
    present = {f for f in model.features if not math.isnan(found.get(f, math.nan))}
    missing = [f for f in model.features if f not in present]
    if len(missing) > max_missing_fraction * len(model.features):
        raise JobFailed(
            f"{len(missing)} of the model's {len(model.features)} genes are missing from the expression profile"
            f" (at most {max_missing_fraction:.0%} may be): {_named(missing)}"
        )
    x = np.array([found[f] if f in present else m for f, m in zip(model.features, model.medians, strict=True)])
    return Matched(x, missing, ignored)


def probe_symbols(directory: Path, table: str | None) -> dict[str, str]:
    """Probe id (200726_at, without the R prefix) -> gene symbol, from the model's committed table named by the
    manifest's `probe_symbols` (tab-separated probe_id, symbol; # comments); empty symbols are left out."""
    if not table:
        return {}
    symbols = {}
    for line in (directory / table).read_text(encoding="utf-8").splitlines():
        probe, _, symbol = line.partition("\t")
        if line.startswith("#") or probe == "probe_id" or not symbol.strip():
            continue
        symbols[probe.strip()] = symbol.strip()
    return symbols


def km_plot(km: dict[str, Any], patient_group: str, disclaimer: str) -> bytes:
    """The training cohort's Kaplan-Meier curves by risk group, the patient's group drawn bold."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: only this pipeline draws
    from matplotlib.figure import Figure

    days_per_unit = 365.25 if km.get("time_unit") == "days" else 1.0
    fig = Figure(figsize=(7.5, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.1, 0.2, 0.86, 0.7))
    for colour, g in zip(COLOURS, km["groups"], strict=False):
        mine = g["label"] == patient_group
        label = f"{g['label']} (n={g['n']}, {g['events']} events)" + ("  <- this profile" if mine else "")
        times = np.asarray(g["time"]) / days_per_unit
        style = {"lw": 3, "alpha": 1.0} if mine else {"lw": 1.2, "alpha": 0.45}
        ax.step(times, g["survival"], where="post", color=colour, label=label, **style)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"time ({'years' if days_per_unit != 1 else km.get('time_unit', 'unknown unit')})")
    ax.set_ylabel(f"{km.get('endpoint', 'survival')} (probability)")
    ax.set_title("Training cohort by risk group (Kaplan-Meier)")
    ax.legend(loc="lower left", fontsize=9)
    ax.grid(alpha=0.3)
    fig.text(0.5, 0.03, disclaimer, ha="center", fontsize=8.5, color="darkred", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class OmicsRiskPipeline:
    task = "omics-risk"

    def run(self, job: dict[str, Any], model: Any, ctx: JobContext) -> Outcome:
        source = job.get("input") or {}
        if source.get("kind") != "expression" or not source.get("bucket") or not source.get("key"):
            raise InvalidJob("this omics model needs an expression profile as input (kind 'expression', bucket, key)")
        manifest = model.manifest
        disclaimer = manifest["disclaimer"]

        with ctx.stage("fetch"):
            ctx.progress("fetching", 0.0)
            data = ctx.get_object(source["bucket"], source["key"])

        with ctx.stage("preprocessing"):
            ctx.progress("preprocessing", 0.2)
            cox = CoxModel.from_json(model.artifact)
            profile = parse_profile(data, cox.lookup())
            matched = match(profile, cox, float(manifest["input"]["max_missing_fraction"]))

        with ctx.stage("forward"):
            ctx.progress("inference", 0.4)
            contributions = cox.coefficients * (matched.x - cox.centre) / cox.scale
            risk = float(contributions.sum())

        with ctx.stage("postprocessing"):
            ctx.progress("inference", 0.6)
            group, percentile = cox.group(risk), cox.percentile(risk)
            symbols = probe_symbols(model.directory, manifest.get("probe_symbols"))
            top = [
                {
                    "gene": cox.features[i],
                    "probe": cox.features[i].removeprefix("X"),
                    "symbol": symbols.get(cox.features[i].removeprefix("X")),
                    "contribution": round(float(contributions[i]), 4),
                    "value": round(float(matched.x[i]), 4),
                    "imputed": cox.features[i] in matched.imputed,
                }
                for i in np.argsort(-np.abs(contributions))[:TOP_GENES]
            ]
            png = km_plot(cox.km, group, disclaimer)

        summary = {
            "source": {"bucket": source["bucket"], "key": source["key"]},
            "layout": profile.layout,
            "delimiter": profile.delimiter,
            "model_genes": len(cox.features),
            "genes_used": len(cox.features) - len(matched.imputed),
            "imputed_genes": matched.imputed,
            "imputed_with": "training-cohort median",
            "ignored_genes": matched.ignored,
        }
        with ctx.stage("writing"):
            ctx.progress("writing", 0.8)
            artifacts = ctx.put_artifacts(
                [
                    ArtifactFile("km-plot", "km-plot.png", png, "image/png"),
                    ArtifactFile(
                        "input-summary",
                        "input-summary.json",
                        json.dumps(summary, indent=1).encode(),
                        "application/json",
                    ),
                ]
            )
            ctx.progress("writing", 1.0)

        imputed = f"{len(matched.imputed)} of {len(cox.features)} genes imputed"
        if matched.imputed:
            imputed += f" ({_named(matched.imputed)})"
        return Outcome(
            metrics={
                "risk_score": round(risk, 4),
                "risk_group": group,
                "risk_group_cutoffs": [round(float(c), 4) for c in cox.cutoffs],
                "percentile": round(percentile, 1),
                "top_genes": top,
                "n_features_used": summary["genes_used"],
                "n_features": len(cox.features),
                "imputed_genes": matched.imputed,
                "ignored_genes": matched.ignored[:LISTED],
                "n_ignored_genes": len(matched.ignored),
                "km": cox.km,
                "c_index_cv": manifest["metrics"]["c_index_cv_mean"],
            },
            summary=(
                f"Risk score {risk:+.2f}: {group} risk group of the training cohort, percentile {percentile:.0f};"
                f" {imputed}. {disclaimer}"
            ),
            artifacts=artifacts,
            disclaimer=disclaimer,
        )
