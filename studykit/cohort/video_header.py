"""What ingestion keeps of a video's header (:func:`studykit.cohort.dicom.read_header` for DICOM,
:func:`studykit.cohort.video.read_container_header` for plain video files)."""

from __future__ import annotations

from dataclasses import dataclass, field

from studykit.cohort.tables import Box

__all__ = ["VideoHeader"]


@dataclass(frozen=True)
class VideoHeader:
    """What ingestion needs from a DICOM header or a plain video file (no identifying value is kept).

    ``regions`` are the 2-D ultrasound regions as exclusive-max boxes clipped to the frame,
    left to right; ``frames`` is NumberOfFrames (1 when absent).
    """

    rows: int
    columns: int
    frames: int
    samples: int
    photometric: str
    bits_allocated: int
    bits_stored: int
    transfer_syntax: str
    regions: tuple[Box, ...]
    attributes: dict = field(default_factory=dict)
    pixel_offset: int = -1           # file offset of the Pixel Data value (-1: unknown, e.g. deflated)
    pixel_representation: int = 0
    planar_configuration: int = 0
    extended_offsets: bool = False   # an Extended Offset Table is present (encapsulated data)
    container: str = ""              # plain video file: FFmpeg's format name (e.g. "mov"); "" for DICOM
    frame_time_vector: tuple[float, ...] = ()  # DICOM Frame Time Vector, ms (checked; () when absent)

    @property
    def frame_box(self) -> Box:
        return Box(0, 0, self.columns, self.rows)
