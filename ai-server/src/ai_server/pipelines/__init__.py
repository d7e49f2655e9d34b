"""Pipelines by task. Imported on first use: the Flask process lists models without loading MONAI."""

from .base import InvalidJob, Pipeline


def pipeline_for(task: str) -> Pipeline:
    if task == "segmentation":
        from .segmentation import SegmentationPipeline

        return SegmentationPipeline()
    if task == "omics-risk":
        from .omics_risk import OmicsRiskPipeline

        return OmicsRiskPipeline()
    raise InvalidJob(f"no pipeline for task {task!r}")
