"""Writes a DICOM SEG (one segment, a box in the middle slices) over a series of DICOM files, for the
viewer's overlay test. Run with the ai-server's Python (it has highdicom):

    ai-server/.venv/bin/python e2e/browser/make_seg.py OUT.dcm SLICE.dcm [SLICE.dcm ...]
"""

import sys

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes


def main(out: str, paths: list[str]) -> None:
    sources = sorted((pydicom.dcmread(path) for path in paths), key=lambda ds: float(ds.ImagePositionPatient[2]))
    rows, columns = sources[0].Rows, sources[0].Columns
    mask = np.zeros((len(sources), rows, columns), dtype=bool)
    middle = len(sources) // 2
    mask[max(0, middle - 2) : middle + 2, rows // 4 : rows // 2, columns // 4 : columns // 2] = True
    segment = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[segment],
        series_instance_uid=hd.UID(),
        series_number=99,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="CDSS end-to-end test",
        manufacturer_model_name="box",
        software_versions="1",
        device_serial_number="0",
        series_description="SEG browser e2e",
    )
    seg.save_as(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
