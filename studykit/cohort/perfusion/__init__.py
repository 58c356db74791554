"""Perfusion quantification of CEUS videos: time–intensity curves and bolus-model fits.

:func:`extract_tic` reads a patient's lesion and reference-cortex time–intensity curves from
the video (linearising the displayed log-compressed signal, :func:`linearize`);
:func:`fit_bolus` fits a lognormal or gamma-variate bolus model with standard errors, R² and
the derived perfusion parameters; :func:`perfusion_table` does both for every included
patient, one row each with its status, and :func:`perfusion_fits` returns that table with every
fitted patient's observed and fitted curves (the data of the TIC figures). The gamma variate
here is the one the synthetic generator renders with.
"""

from studykit.cohort.perfusion.models import (
    MODELS,
    R2_FLOOR,
    BolusFit,
    derived_parameters,
    fit_bolus,
    gamma_variate,
    lognormal,
)
from studykit.cohort.perfusion.table import CURVE_COLUMNS, PerfusionFits, perfusion_fits, perfusion_table
from studykit.cohort.perfusion.tic import (
    CORTEX_COLUMN,
    DEFAULT_DYNAMIC_RANGE_DB,
    DEFAULT_REFERENCE,
    TIC_COLUMNS,
    extract_tic,
    intensity_db,
    linearize,
)

__all__ = [
    "CORTEX_COLUMN",
    "CURVE_COLUMNS",
    "DEFAULT_DYNAMIC_RANGE_DB",
    "DEFAULT_REFERENCE",
    "MODELS",
    "R2_FLOOR",
    "TIC_COLUMNS",
    "BolusFit",
    "PerfusionFits",
    "derived_parameters",
    "extract_tic",
    "fit_bolus",
    "gamma_variate",
    "intensity_db",
    "linearize",
    "lognormal",
    "perfusion_fits",
    "perfusion_table",
]
