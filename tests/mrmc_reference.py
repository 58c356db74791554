"""RJafroc's published sample-size answers for the Van Dyke (RJafroc ``dataset02``) and Franken
(``dataset03``) pilots, with the call that produced each and where it is printed.

Sources (both in the public repository dpc10ster/RJafroc):

* ``TESTS``: ``tests/testthat/test-SsSampleSizeRoc.R`` at RJafroc 2.1.3 (commit
  44b0e39ebb0adda0d28d675850cbcf97d4d85d3f), the package's own expected values
  (``expect_equivalent(..., tolerance = 1e-8)`` or ``5e-8``; ``expect_equal`` for K).
* ``VIGNETTE``: the pkgdown article "Chapter 11, Vignette 4: RJafroc functions for ROC sample
  size estimation using OR method", ``docs/articles/Ch11Vig4SampleSize.html`` at commit
  c2df3d9328e1a744336c414e7a5054c8ab4c5848 (site built 2020-12-04): ``str(power)`` of
  ``SsPowerGivenJK(dataset02, FOM = "Wilcoxon", J = 6, K = 251, method = "OR")`` and the
  printed ``SsPowerTable(dataset02, FOM = "Wilcoxon", analysisOption = "RRRC")``. That code's
  ``SsPowerGivenJKOrVarCom`` is the same as 2.1.3's (Hillis et al. 2011, eq. 10), and 2.1.3's
  test checks the table's J = 6 row (251 cases, power 0.801).

RJafroc's default ``effectSize = NULL`` is the pilot's observed difference (trt0 − trt1 =
−0.043800322); its tests pass that value rounded to nine digits.
"""

from __future__ import annotations

#: Van Dyke's observed RRRC difference trt0 − trt1, as RJafroc's tests type it.
VANDYKE_EFFECT = 0.043800322

#: (what, pilot file, call arguments, RJafroc's value, tolerance RJafroc asserts, source)
TESTS = [
    ("power", "vandyke", {"effect": VANDYKE_EFFECT, "readers": 10, "cases": 165, "analysis": "RRRC"},
     0.80541995, 1e-8,
     "SsPowerGivenJK(dataset02, 'Wilcoxon', method='OR', effectSize=-0.043800322, J=10, K=165)"),
    ("power", "vandyke", {"effect": VANDYKE_EFFECT, "readers": 10, "cases": 131, "analysis": "FRRC"},
     0.80091813, 1e-8, "SsPowerGivenJK(..., J=10, K=131, analysisOption='FRRC')"),
    ("power", "vandyke", {"effect": VANDYKE_EFFECT, "readers": 10, "cases": 53, "analysis": "RRFC"},
     0.80496663, 1e-8, "SsPowerGivenJK(..., J=10, K=53, analysisOption='RRFC')"),
    ("power", "vandyke", {"effect": "observed", "readers": 6, "cases": 111, "analysis": "RRRC"},
     0.5526116, 5e-8, "SsPowerGivenJK(dataset02, FOM='Wilcoxon', J=6, K=111, method='OR')$powerRRRC"),
    ("cases", "vandyke", {"effect": "observed", "readers": 6, "analysis": "RRRC"},
     251, 0, "SsSampleSizeKGivenJ(dataset02, J=6, FOM='Wilcoxon', method='OR')$KRRRC"),
    ("sized power", "franken", {"effect": 0.05, "readers": 6, "analysis": "RRRC"},
     0.8004469, 1e-8, "SsSampleSizeKGivenJ(dataset03, FOM='Wilcoxon', effectSize=0.05, J=6, method='OR')"
                      "$powerRRRC"),
]

#: ``str(power)`` of the vignette (``ncpRRRC``, ``df2RRRC`` printed to 3 significant digits) and its
#: inline "Expected power".
VIGNETTE_POWER = {"readers": 6, "cases": 251, "power": 0.80054026, "ncp": 8.91, "ddf": 16.1}

#: The vignette's power table: (J, K, power printed with signif(·, 3)); K None = ">2000" (power NA).
#: RJafroc prints every row twice (SsPowerTable rbinds each row twice); each is listed once here.
VIGNETTE_TABLE = [
    (3, None, None), (4, 1089, 0.8), (5, 344, 0.801), (6, 251, 0.801), (7, 211, 0.801),
    (8, 188, 0.801), (9, 173, 0.801), (10, 163, 0.802), (11, 155, 0.801), (12, 149, 0.802),
    (13, 144, 0.801), (14, 140, 0.802), (15, 137, 0.802), (16, 134, 0.802), (17, 131, 0.801),
    (18, 129, 0.801), (19, 127, 0.801), (20, 126, 0.802), (21, 124, 0.801), (22, 123, 0.802),
    (23, 122, 0.802), (24, 121, 0.803), (25, 120, 0.802), (26, 119, 0.802), (27, 118, 0.802),
    (28, 117, 0.801), (29, 117, 0.803), (30, 116, 0.802), (31, 115, 0.801), (32, 115, 0.803),
    (33, 114, 0.801), (34, 114, 0.803), (35, 113, 0.801), (36, 113, 0.802), (37, 112, 0.8),
    (38, 112, 0.802), (39, 112, 0.803), (40, 111, 0.801), (41, 111, 0.802), (42, 111, 0.803),
    (43, 110, 0.801), (44, 110, 0.802), (45, 110, 0.802), (46, 110, 0.803), (47, 109, 0.801),
    (48, 109, 0.802), (49, 109, 0.802), (50, 109, 0.803), (51, 108, 0.8), (52, 108, 0.801),
    (53, 108, 0.802), (54, 108, 0.802), (55, 108, 0.803), (56, 107, 0.8), (57, 107, 0.801),
    (58, 107, 0.801), (59, 107, 0.802), (60, 107, 0.802), (61, 107, 0.803), (62, 107, 0.803),
    (63, 106, 0.8), (64, 106, 0.801), (65, 106, 0.801), (66, 106, 0.802), (67, 106, 0.802),
    (68, 106, 0.802), (69, 106, 0.803), (70, 106, 0.803), (71, 106, 0.804), (72, 105, 0.8),
    (73, 105, 0.801), (74, 105, 0.801), (75, 105, 0.801), (76, 105, 0.802), (77, 105, 0.802),
    (78, 105, 0.802), (79, 105, 0.803), (80, 105, 0.803), (81, 105, 0.803), (82, 105, 0.803),
    (83, 104, 0.8), (84, 104, 0.8), (85, 104, 0.801), (86, 104, 0.801), (87, 104, 0.801),
    (88, 104, 0.801), (89, 104, 0.802), (90, 104, 0.802), (91, 104, 0.802), (92, 104, 0.802),
    (93, 104, 0.802), (94, 104, 0.803), (95, 104, 0.803), (96, 104, 0.803), (97, 104, 0.803),
    (98, 104, 0.804), (99, 104, 0.804), (100, 103, 0.8),
]
