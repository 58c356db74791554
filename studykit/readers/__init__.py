"""Layer ``readers``: reader CSV import and validation, majority vote, panel scores. Built by
the study-runner issue; may import stats and errors."""
