"""Radiology: imaging orders, studies, DICOM ingest and the DICOMweb gateway; the PACS client."""
