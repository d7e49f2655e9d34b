"""The EMR side: the OpenEMR client, the patient cache and the patient timeline."""
