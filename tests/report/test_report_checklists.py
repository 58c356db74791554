"""The STARD 2015 and CLAIM 2024 items (numbered as published) and their markdown page."""

from __future__ import annotations

import re

import pytest

from studykit.errors import InputError
from studykit.report import CHECKLISTS, CLAIM_2024, STARD_2015, Entry, render_checklist
from studykit.report.checklists import AUTHORS

#: The published numbering (Bossuyt et al. 2015, Table 1): 30 items, six split in two.
STARD_IDS = [*map(str, range(1, 10)), "10a", "10b", "11", "12a", "12b", "13a", "13b",
             *map(str, range(14, 21)), "21a", "21b", *map(str, range(22, 31))]
#: Tejani et al. 2024: 44 items, none split.
CLAIM_IDS = [str(i) for i in range(1, 45)]


def test_stard_has_every_official_item_once_in_order():
    assert list(STARD_2015.ids) == STARD_IDS and len(set(STARD_2015.ids)) == 34
    assert sorted({int(re.match(r"\d+", i).group()) for i in STARD_2015.ids}) == list(range(1, 31))


def test_claim_has_the_44_items_of_the_2024_update_once_in_order():
    assert list(CLAIM_2024.ids) == CLAIM_IDS


@pytest.mark.parametrize(("checklist", "item", "section", "words"), [
    (STARD_2015, "10a", "Methods: test methods", "Index test"),
    (STARD_2015, "13a", "Methods: test methods", "reference standard results were available to the"),
    (STARD_2015, "19", "Results: participants", "Flow of participants"),
    (STARD_2015, "21b", "Results: participants", "alternative diagnoses"),
    (STARD_2015, "28", "Other information", "Registration number"),
    (CLAIM_2024, "13", "Methods: data", "Image acquisition protocol"),
    (CLAIM_2024, "20", "Methods: data partitions", "partitions are disjoint"),
    (CLAIM_2024, "21", "Methods: testing data", "Intended sample size"),
    (CLAIM_2024, "34", "Methods: evaluation", "Clinical trial registration"),
    (CLAIM_2024, "35", "Results: data", "included and excluded"),
    (CLAIM_2024, "43", "Other information", "availability of software, trained model"),
])
def test_items_sit_in_their_published_sections(checklist, item, section, words):
    found = {i.id: i for i in checklist.items}[item]
    assert found.section == section and words in found.text


def _rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 5 and cells[0] not in ("No.", "---"):
            assert cells[0] not in rows, f"item {cells[0]} twice"
            rows[cells[0]] = cells
    return rows


def test_render_marks_each_item_once_with_its_status():
    entries = {"19": Entry("230 records; 49 excluded", "figures/flow.png"),
               "10b": Entry("column `label` | malignant", "manifest.csv", "how pathology was obtained.")}
    text = render_checklist(STARD_2015, entries, study="Renal CEUS")
    assert text.startswith("# STARD 2015 checklist: Renal CEUS\n")
    assert "Of 34 items: 1 from the run, 1 partly from the run, 32 to be completed by the authors." in text
    rows = _rows(text)
    assert list(rows) == STARD_IDS
    assert rows["19"][2:] == ["from the run", "230 records; 49 excluded", "figures/flow.png"]
    assert rows["10b"][2] == "partly from the run"
    rest = "*To be completed by the authors:* how pathology was obtained."
    assert rows["10b"][3] == f"column `label` \\| malignant {rest}"
    assert rows["28"][2:] == [AUTHORS, "", ""] and rows["30"][2] == AUTHORS
    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(dict.fromkeys(i.section for i in STARD_2015.items))


def test_every_claim_item_is_a_row_and_unanswered_ones_are_the_authors():
    rows = _rows(render_checklist(CLAIM_2024, {}, study="x"))
    assert list(rows) == CLAIM_IDS and {r[2] for r in rows.values()} == {AUTHORS}


def test_an_entry_for_an_unknown_item_is_refused_with_a_close_match():
    with pytest.raises(InputError, match=r"(?s)STARD 2015 has no item '10c'.*did you mean '10b'\?"):
        render_checklist(STARD_2015, {"10c": Entry("x", "y")}, study="s")
    assert set(CHECKLISTS) == {"stard", "claim"}
