"""Layer ``cohort``: manifest, DICOM reading, de-identification, annotations, ROI pair store,
splits and the synthetic cohort. Built by the cohort-layer issue; may import errors only."""
