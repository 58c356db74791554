"""Layer ``protocol``: pydantic schema of protocols and arm specs, loading, and errors that
name the YAML path. May import errors only."""

from studykit.protocol.arms import ArmSpec, load_arm
from studykit.protocol.loading import load_model, validate_model
from studykit.protocol.study import StudyProtocol, load_protocol

__all__ = ["ArmSpec", "StudyProtocol", "load_arm", "load_model", "load_protocol", "validate_model"]
