"""Layer ``study``: the protocol runner (plan (arm, fold) units, run or resume them, call the
analyses, write outputs). Built by the study-runner issue; may import protocol, cohort,
train, readers, analysis, report and errors."""
