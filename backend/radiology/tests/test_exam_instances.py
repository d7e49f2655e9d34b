"""The four-series brain MR exam the viewer's browser test and the exam-load benchmark upload."""

from radiology.testing import exam_instances, to_bytes


def test_four_series_share_positions_and_frame_of_reference():
    instances = exam_instances(slices=3, size=32, study_date="20251201", patient_id="P1", z_offset=10.0)
    assert len(instances) == 12
    assert [item.SeriesDescription for item in instances[::3]] == ["AX T1", "AX T1 POST GD", "AX T2", "AX FLAIR"]
    assert len({item.StudyInstanceUID for item in instances}) == 1
    assert len({item.SeriesInstanceUID for item in instances}) == 4
    assert len({item.SOPInstanceUID for item in instances}) == 12
    assert len({item.FrameOfReferenceUID for item in instances}) == 1
    positions = [[float(value) for value in item.ImagePositionPatient][2] for item in instances]
    assert positions[:3] == [5.0, 10.0, 15.0] and positions[3:6] == positions[:3]
    first = instances[1]
    assert (first.Rows, first.Columns, first.StudyDate, first.PatientID) == (32, 32, "20251201", "P1")
    assert first.pixel_array.shape == (32, 32) and first.pixel_array.max() > 0
    assert to_bytes(first)[128:132] == b"DICM"
