"""What one (arm, fold) unit's job asks a scheduler for: ``arms[i].resources`` of a protocol.

::

    arms:
      - model: ../models/muf_net.yaml
        resources: {gpus: 4, cpus: 16, mem_gb: 64, time_min: 720, partition: gpu,
                    account: renal, qos: normal, constraint: a100, extra: {exclusive: true}}

``studykit run --executor slurm`` turns these into ``sbatch`` options (one job array per
distinct set, ``studykit.study.executors``); ``--executor local`` uses ``gpus`` and
``time_min``; the sequential runner ignores them. They change no number: a unit's inputs are
its arm spec, store and fold, not where it ran. ``gpus`` are GPUs of one node; more than one
runs the unit data-parallel under ``torchrun`` (one process per GPU). ``cpus`` unset means
the protocol's ``runtime.threads`` (torch's thread count, so the job gets the cores it uses).
``extra`` carries any other ``sbatch`` option (``{exclusive: true, mail-type: END}``), but
none that a field above or studykit itself sets.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from studykit.vocab import did_you_mean

__all__ = ["RESERVED_SBATCH_OPTIONS", "ResourcesSpec"]

#: ``sbatch`` options a field of :class:`ResourcesSpec` or studykit sets, each with the field
#: that sets it (``None``: studykit does; ``extra`` may not set it).
RESERVED_SBATCH_OPTIONS: dict[str, str | None] = {
    "gpus-per-node": "gpus", "gres": "gpus", "gpus": "gpus", "cpus-per-task": "cpus", "mem": "mem_gb",
    "time": "time_min", "partition": "partition", "account": "account", "qos": "qos",
    "constraint": "constraint", "array": None, "dependency": None, "output": None, "error": None,
    "job-name": None, "signal": None, "nodes": None, "ntasks-per-node": None, "open-mode": None,
}


class ResourcesSpec(BaseModel):
    """One unit's scheduler request (GPUs of one node, CPUs, memory, wall time, where, extra).

    Attributes
    ----------
    gpus : GPUs on the unit's node (0: CPU only; > 1: ``torchrun --nproc_per_node=gpus``).
    cpus : CPU cores of the job (``--cpus-per-task``); None: the protocol's ``runtime.threads``.
    mem_gb : memory of the job in GB (``--mem``); None: the partition's default.
    time_min : wall-time limit in minutes (``--time``).
    partition, account, qos, constraint : ``sbatch`` options of those names; None: not given.
    extra : any other ``sbatch`` option, name → value (``true`` for a bare flag).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: Annotated[int, Field(ge=0, le=64)] = 0
    cpus: Annotated[int, Field(ge=1, le=1024)] | None = None
    mem_gb: Annotated[float, Field(gt=0)] | None = None
    time_min: Annotated[int, Field(ge=1)] = 1440
    partition: Annotated[str, Field(min_length=1)] | None = None
    account: Annotated[str, Field(min_length=1)] | None = None
    qos: Annotated[str, Field(min_length=1)] | None = None
    constraint: Annotated[str, Field(min_length=1)] | None = None
    extra: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("extra")
    @classmethod
    def _no_reserved_option(cls, extra: dict[str, str | int | float | bool]) -> dict:
        for key in extra:
            option = key.replace("_", "-").lstrip("-")
            if option in RESERVED_SBATCH_OPTIONS:
                owner = RESERVED_SBATCH_OPTIONS[option]
                fix = f"use resources.{owner}" if owner else "studykit sets it itself; remove it"
                raise ValueError(f"extra.{key}: the sbatch option --{option} is not an extra; {fix}")
            if not option or not all(c.isalnum() or c == "-" for c in option):
                raise ValueError(f"extra.{key}: not an sbatch option name (letters, digits and '-', "
                                 "e.g. mail-type)")
        return extra

    def with_overrides(self, **overrides: object) -> ResourcesSpec:
        """A copy with the non-None ``overrides`` (field → value) applied and validated again.

        Raises
        ------
        ValueError
            An unknown field (did-you-mean) — a pydantic ``ValidationError`` for a bad value.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        for key in given:
            if key not in type(self).model_fields:
                hint = did_you_mean(key, type(self).model_fields, "")
                raise ValueError(f"no resource named {key!r}; {hint}".rstrip("; "))
        return type(self).model_validate({**self.model_dump(), **given})
