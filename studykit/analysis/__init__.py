"""Layer ``analysis``: the study's analyses as functions of tidy prediction and read tables.
Built by the study-runner issue; may import stats and errors."""
