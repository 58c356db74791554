"""Layer ``protocol``: pydantic schema of protocols and arm specs, loading, and errors that
name the YAML path. Built by the study-runner issue; may import errors only."""
