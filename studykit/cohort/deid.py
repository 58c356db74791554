"""De-identification: which DICOM attributes identify a person, and the ingestion guarantee.

**Guarantee.** Ingestion copies *no* DICOM attribute value into its outputs except the
technical, non-identifying attributes of :data:`OUTPUT_ATTRIBUTES` (transfer syntax,
image geometry, photometric interpretation, frame count and timing, region rectangles).
Everything else — names, ids, dates, institutions, operators, UIDs, free text, private
tags — is never read into an output, so no value of an identifying attribute of the
PS3.15 Basic Application Level Confidentiality Profile can reach the pair store, its index
or anything built from them. Patients are named only by the manifest's pseudonymous ids
and videos by ``<patient>-v<k>``, never by file names. The whitelist is checked against the
profile at import time (:func:`is_identifying` must be false for each entry).

What the guarantee does not cover: text burned into the pixels. Only the annotated boxes,
cropped from inside the ultrasound panels, reach the store, which keeps the banner (where
scanners print the patient's name) out unless a box covers it.

**Profile.** :data:`BASIC_PROFILE` maps each attribute of DICOM PS3.15 Table E.1-1 to its
Basic Profile action (``D`` dummy, ``Z`` zero length, ``X`` remove, ``U`` new UID, or a
compound such as ``X/Z`` where the choice depends on the IOD), transcribed from the
machine-readable extraction of the standard (innolitics/dicom-standard,
``confidentiality_profile_attributes.json``). Repeating groups (curve data ``50xx,xxxx``,
overlay data and comments ``60xx,3000`` / ``60xx,4000``) and every private attribute (odd
group) are identifying too.

:func:`list_phi` reports the identifying attributes present in a dataset (tags and sizes,
never values); :func:`strip_phi` applies the profile's actions to a copy.

References
----------
NEMA PS3.15, Annex E: Attribute Confidentiality Profiles, Table E.1-1.
https://dicom.nema.org/medical/dicom/current/output/chtml/part15/chapter_E.html
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pandas as pd
from pydicom.datadict import dictionary_description, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

__all__ = ["BASIC_PROFILE", "OUTPUT_ATTRIBUTES", "is_identifying", "list_phi", "safe_attributes", "strip_phi"]

_GPS = " ".join(f"0016{e:04X}" for e in range(0x70, 0x8F))  # GPS Version ID … GPS Differential: X

# Basic Profile action → tags (group+element, hex). PS3.15 Table E.1-1.
_PROFILE_TABLE = {
    "D": """001811BB 00120081 00120020 00120010 00120040 00120042 00400512 0040A730 3010002D 30100035
        30100038 00340002 00340001 00340007 00700001 003A0314 300A0741 300A0742 300A0783 300A0760 00401101
        0040A123 300A0619 300A0623 300A067C 300A073A 300A0002 30100054 300A062A 0018936A 00340005 00189369
        00400551 30060002 300A0608 30100077 300A0736 300A0734 30100033 30100034 0040A075 0040A073 0040A027
        00189371 00189367""",
    "Z": """00080050 00120060 00120021 00120030 00120031 00120050 3010000F 30100017 0008009C 3010001B
        00402017 3010007F 00400513 00400562 30100043 00100030 00100010 00100040 00100020 00402016 3010007B
        30100081 300A067D 3010005C 00080090 300600A6 30060026 300A0615 300A0611 3010005A 00400610 30060008
        00080020 00200010 00080030 3010007A 0040A088""",
    "U": """00209161 30100006 30100013 00181002 04000100 00209164 300A0013 3010006E 00080058 0070031A
        00200052 00080014 00083010 00281214 0018100B 00020003 003A0310 0040A402 0040A171 00281199 300A0650
        00701101 00701102 3010000B 300A0083 3010006F 30100031 30060024 00404023 0040A172 00081155 00041511
        300600C2 00001001 3010003B 0020000E 00080018 30100015 00400554 00880140 0020000D 00200200 00182042
        0040DB0D 0040DB0C 00620021 00081195 300A0609 300A0700 0040A124""",
    "X/Z": "00400555 00080022 00080032 22000005 22000002 00102203 00081110 00321060 300E0008 30080105",
    "X/D": """00181400 0018700A 00189517 30080054 3010004D 3010004C 30080056 00081072 00181030 300A0006
        300A0007 30100056 00080021 00080031 00189516 30060009 30080250 30080251""",
    "X/Z/D": "0008002A 00181000 00080082 00080080 00081070 00081111 00081010",
    "Z/D": "00700084 00080023 00080033 00180010",
    "X/Z/U*": "00081140 00082112",
    "X": _GPS + """ 00184000 00189424 00404035 001021B0 0040A353 00380010 00380020 00081084 00081080
        00380021 00001000 00102110 40000010 0040A078 300A00C3 300A00DD 00101081 0016004D 00181007 00120082
        00120072 00120071 00120051 00400310 00400280 300A02EB 00403001 0008009D 0050001B 0040051A 00700086
        0018A003 00102150 0040A307 00380300 00080025 00080035 0040A07C FFFCFFFC 0018937F 00082111 00500020
        0016004B FFFAFFFA 00380040 4008011A 40080119 300A0016 30100037 30100036 300A0676 00102160 00404011
        300A0196 300A0072 00209158 00181008 00181005 00404037 00404036 00880200 00084000 00204000 00284000
        00402400 40080300 00080015 04000600 00080081 00081040 00081041 00101050 00401011 40080111 4008010C
        40080115 40080202 40080102 4008010B 4008010A 00380011 00380014 00100021 00380061 00380064 001021D0
        0016004F 00160050 00160051 0016004E 00500021 04000404 0016002B 00102000 00101090 00101080 04000550
        00203406 00203401 0018937B 00081060 00401010 04000551 04000552 0040A192 0040A193 00102180 00402010
        00402011 00402008 00402009 04000561 00101000 00101002 00101001 00080024 00080034 0040A07A 00101040
        00101010 00101005 00100032 00380400 00100050 00101060 00100101 00100102 001021F0 00101020 00102155
        00102154 00101030 00104000 00380500 00401004 00400243 00400254 00400250 00404051 00400251 00400253
        00400244 00404050 00400245 00400241 00404030 00400242 00404028 00081050 00081052 00401102 00401104
        00401103 00081048 00081049 00081062 40080114 00181004 001021C0 00400012 300A000E 30100061 00404052
        300C0113 0040100A 00321030 00402001 00401002 00321066 00321067 04000402 00380004 00101100 00081120
        04000403 00080092 00080094 00080096 00102152 00400275 00321070 00401400 00401001 00401005 00189937
        00321032 00321033 00189185 00102299 00102297 40084000 40080118 40080042 30060028 30060038 30060088
        30060085 300A0004 300A0003 00404034 0038001E 00400006 0040000B 00400007 00400004 00400005 00404008
        00400009 00400011 00404010 00400002 00404005 00400003 00400001 00404027 00400010 00404025 00321020
        00321021 0008103E 00380062 00380060 300A01B2 300A01A6 004006FA 001021A0 300A0216 00380050 0040050A
        00400602 00400600 30060006 30060004 00324000 00081030 00320012 0040A354 40004000 20300020 00080201
        00880910 00880912 00880906 00880904 00185011 300A00B2 0018100A 00181009 00189373 0040A352 0040A358
        00384000""",
}

#: Tag → Basic Profile action for every attribute listed in PS3.15 Table E.1-1.
BASIC_PROFILE: dict[BaseTag, str] = {
    Tag(int(code, 16)): action for action, codes in _PROFILE_TABLE.items() for code in codes.split()
}

#: The only DICOM attributes whose values ingestion may write to an output (non-identifying).
OUTPUT_ATTRIBUTES = ("TransferSyntaxUID", "SOPClassUID", "Modality", "PhotometricInterpretation", "Rows",
                     "Columns", "NumberOfFrames", "SamplesPerPixel", "BitsAllocated", "BitsStored",
                     "FrameTime", "CineRate")


def is_identifying(tag: int) -> bool:
    """True for attributes the Basic Profile removes or replaces (incl. private, 50xx, 60xx)."""
    tag = Tag(tag)
    if tag.is_private:
        return True
    if 0x5000 <= tag.group <= 0x50FF:  # curve data (retired repeating group)
        return True
    if 0x6000 <= tag.group <= 0x60FF and tag.element in (0x3000, 0x4000):  # overlay data, comments
        return True
    return tag in BASIC_PROFILE


def _check_whitelist() -> None:
    for keyword in OUTPUT_ATTRIBUTES:
        tag = tag_for_keyword(keyword)
        if tag is None or is_identifying(tag):
            raise RuntimeError(f"OUTPUT_ATTRIBUTES entry {keyword!r} is identifying or unknown")


_check_whitelist()


def safe_attributes(ds: Dataset) -> dict[str, Any]:
    """The whitelisted attributes present in ``ds`` (file meta included), as plain values."""
    out: dict[str, Any] = {}
    meta = getattr(ds, "file_meta", None)
    for keyword in OUTPUT_ATTRIBUTES:
        value = ds.get(keyword)
        if value is None and meta is not None:
            value = meta.get(keyword)
        if value is None or value == "":
            continue
        out[keyword] = value if isinstance(value, (int, float)) else str(value)
    return out


def _walk(ds: Dataset, path: str = ""):
    for elem in ds:
        where = f"{path}{keyword_for_tag(elem.tag) or str(elem.tag)}"
        yield where, elem
        if elem.VR == "SQ" and elem.value is not None:
            for i, item in enumerate(elem.value):
                yield from _walk(item, f"{where}[{i}].")


def list_phi(ds: Dataset) -> pd.DataFrame:
    """Identifying attributes present in ``ds`` (sequences searched), for a PHI report.

    Values are never shown, only where they are and how long they are.

    Returns
    -------
    DataFrame with columns ``path`` (e.g. ``OtherPatientIDsSequence[0].PatientID``),
    ``tag`` (``"(0010,0010)"``), ``name``, ``vr``, ``action`` (Basic Profile action) and
    ``length`` (characters or bytes of the value; 0 when empty).
    """
    rows = []
    for where, elem in _walk(ds):
        if not is_identifying(elem.tag):
            continue
        action = "X" if elem.tag.is_private or elem.tag not in BASIC_PROFILE else BASIC_PROFILE[elem.tag]
        value = elem.value
        length = len(value) if isinstance(value, (str, bytes, list, Sequence)) else int(value is not None)
        rows.append({"path": where, "tag": f"({elem.tag.group:04X},{elem.tag.element:04X})",
                     "name": _name(elem.tag), "vr": elem.VR, "action": action, "length": length})
    return pd.DataFrame(rows, columns=["path", "tag", "name", "vr", "action", "length"])


def _name(tag: BaseTag) -> str:
    if tag.is_private:
        return "private attribute"
    try:
        return dictionary_description(tag)
    except KeyError:
        return "unknown"


_DUMMY = {"PN": "ANONYMOUS", "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y",
          "CS": "ANONYMIZED", "UI": None, "IS": "0", "DS": "0"}


def strip_phi(ds: Dataset, *, salt: str = "") -> Dataset:
    """A copy of ``ds`` with the Basic Profile applied (sequences included).

    ``X`` and compounds starting with ``X`` remove the attribute, ``Z`` (and ``Z/D``)
    empties it, ``D`` writes a dummy of the right VR (sequences emptied), ``U`` maps the UID
    to a new one derived from ``salt`` and the old value (consistent within a data set
    collection, not reversible). Private attributes, curves and overlay data are removed.
    """
    out = copy.deepcopy(ds)
    _strip(out, salt)
    if getattr(out, "file_meta", None) is not None:
        _strip(out.file_meta, salt)
    return out


def _strip(ds: Dataset, salt: str) -> None:
    for elem in list(ds):
        if not is_identifying(elem.tag):
            if elem.VR == "SQ" and elem.value is not None:
                for item in elem.value:
                    _strip(item, salt)
            continue
        action = BASIC_PROFILE.get(elem.tag, "X") if not elem.tag.is_private else "X"
        if action.startswith("X"):
            del ds[elem.tag]
        elif action.startswith("Z") or elem.VR == "SQ":
            elem.value = Sequence() if elem.VR == "SQ" else None
        elif action == "U" or elem.VR == "UI":
            elem.value = _new_uid(salt, str(elem.value))
        else:
            text = elem.VR in ("LO", "SH", "LT", "ST", "UT")
            elem.value = _DUMMY.get(elem.VR, "ANONYMIZED" if text else None)


def _new_uid(salt: str, old: str) -> str:
    """A ``2.25.<128-bit integer>`` UID derived one-way from ``salt`` and ``old`` (PS3.5 B.2)."""
    digest = hashlib.sha256(f"{salt}|{old}".encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"
