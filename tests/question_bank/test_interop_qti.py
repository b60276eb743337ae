"""QTI 2.1 and 3.0 items and packages (from 1EdTech's QTI specifications and their response
processing templates), QTI 1.2 as Canvas exports it, and round trips of every bundled quick
question through Moodle XML and QTI."""

from __future__ import annotations

import io
import zipfile

import pytest

from question_bank.interop.formats import export_questions, exportable
from question_bank.loader import BUNDLED_DIR, load_bank
from question_bank.types import grade_quick
from tests.question_bank.interop_helpers import by_title, imported, needs_fractions, refused

QTI21 = "http://www.imsglobal.org/xsd/imsqti_v2p1"
QTI3 = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"


def choice_item_21(
    template: str = "match_correct", mapping: str = "", ident: str = "choice-1"
) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem xmlns="{QTI21}" identifier="{ident}" title="Unattended Luggage" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>ChoiceA</value></correctResponse>{mapping}
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>Look at the text in the picture.</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <prompt>What does it say?</prompt>
      <simpleChoice identifier="ChoiceA">You must stay with your luggage at all times.</simpleChoice>
      <simpleChoice identifier="ChoiceB">Do not let someone else look after your luggage.</simpleChoice>
      <simpleChoice identifier="ChoiceC">Remember your luggage when you leave.</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/{template}"/>
</assessmentItem>"""


TEXT_ENTRY_3 = f"""<?xml version="1.0" encoding="UTF-8"?>
<qti-assessment-item xmlns="{QTI3}" identifier="text-entry" title="Richard III" adaptive="false" time-dependent="false">
  <qti-response-declaration identifier="RESPONSE" cardinality="single" base-type="string">
    <qti-correct-response><qti-value>York</qti-value></qti-correct-response>
    <qti-mapping default-value="0">
      <qti-map-entry map-key="York" mapped-value="1" case-sensitive="true"/>
      <qti-map-entry map-key="york" mapped-value="0.5" case-sensitive="true"/>
    </qti-mapping>
  </qti-response-declaration>
  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>
  <qti-item-body>
    <p>Now is the winter of our discontent made glorious summer by this sun of
      <qti-text-entry-interaction response-identifier="RESPONSE"/>.</p>
  </qti-item-body>
  <qti-response-processing template="https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response.xml"/>
</qti-assessment-item>"""


def test_qti21_choice_with_match_correct() -> None:
    result = imported(choice_item_21(), "item.xml")
    assert result.format == "qti" and not result.refused, result.refused
    q = result.questions[0]
    assert q["slug"] == "choice-1" and q["type"] == "single_choice"
    assert q["title"] == "Unattended Luggage"
    assert q["prompt"] == "Look at the text in the picture.\n\nWhat does it say?"
    assert [c["id"] for c in q["data"]["choices"]] == ["ChoiceA", "ChoiceB", "ChoiceC"]
    assert grade_quick("single_choice", q["data"], "ChoiceA").fraction == 1.0


@needs_fractions
def test_qti21_mapping_gives_per_choice_fractions() -> None:
    mapping = """<mapping lowerBound="0" upperBound="1" defaultValue="0">
      <mapEntry mapKey="ChoiceA" mappedValue="1"/><mapEntry mapKey="ChoiceB" mappedValue="0.5"/></mapping>"""
    q = imported(choice_item_21("map_response", mapping)).questions[0]
    assert grade_quick("single_choice", q["data"], "ChoiceB").fraction == 0.5


def test_qti3_text_entry_with_mapping_and_case() -> None:
    result = imported(TEXT_ENTRY_3, "item3.xml")
    q = result.questions[0]
    assert q["type"] == "short_text" and q["data"]["accept"] == ["York"]
    assert "_____" in q["prompt"].replace("\\", "")
    if "case_sensitive" in q["data"]:
        assert q["data"]["case_sensitive"] is True
        assert q["data"]["partial"] == [{"accept": "york", "fraction": 0.5}]


def test_a_qti3_element_under_the_qti2_namespace_is_refused() -> None:
    mixed = TEXT_ENTRY_3.replace(QTI3, QTI21)
    reasons = refused(imported(mixed))
    assert any("QTI 3 element" in r and "QTI 2 namespace" in r for r in reasons.values())
    back = choice_item_21().replace(QTI21, QTI3)
    assert any("QTI 2 element" in r for r in refused(imported(back)).values())


def test_essays_and_uploads_are_refused() -> None:
    essay = f"""<assessmentItem xmlns="{QTI21}" identifier="e" title="Essay">
<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
<itemBody><extendedTextInteraction responseIdentifier="RESPONSE"/></itemBody></assessmentItem>"""
    assert "essay" in refused(imported(essay))["Essay"]


def package(*items: tuple[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        resources = "".join(
            f'<resource identifier="r{i}" type="imsqti_item_xmlv2p1" href="{name}"><file href="{name}"/></resource>'
            for i, (name, _) in enumerate(items)
        )
        archive.writestr(
            "imsmanifest.xml",
            f'<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="m"><organizations/><resources>{resources}'
            '<resource identifier="gone" type="imsqti_item_xmlv2p1" href="missing.xml"/></resources></manifest>',
        )
        for name, content in items:
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_content_package_reads_every_item_and_reports_a_missing_one() -> None:
    data = package(("items/one.xml", choice_item_21()), ("items/two.xml", TEXT_ENTRY_3))
    result = imported(data, "package.zip")
    assert [q["type"] for q in result.questions] == ["single_choice", "short_text"]
    assert "lacks" in refused(result)["missing.xml"]


def test_broken_packages_and_items_are_errors_not_tracebacks() -> None:
    assert imported(b"PK\x03\x04broken", "x.zip").error is not None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("item.xml", choice_item_21())
    assert "imsmanifest.xml" in (imported(buffer.getvalue(), "nomanifest.zip").error or "")
    assert imported(b"<assessmentItem", "cut.xml", "qti").error is not None


def canvas_item(
    ident: str, title: str, qtype: str, presentation: str, conditions: str, points: str = "1.0"
) -> str:
    return f"""<item ident="{ident}" title="{title}">
  <itemmetadata><qtimetadata>
    <qtimetadatafield><fieldlabel>question_type</fieldlabel><fieldentry>{qtype}</fieldentry></qtimetadatafield>
    <qtimetadatafield><fieldlabel>points_possible</fieldlabel><fieldentry>{points}</fieldentry></qtimetadatafield>
  </qtimetadata></itemmetadata>
  <presentation><material><mattext texttype="text/html">&lt;p&gt;{title}?&lt;/p&gt;</mattext></material>{presentation}</presentation>
  <resprocessing><outcomes><decvar maxvalue="100" minvalue="0" varname="SCORE" vartype="Decimal"/></outcomes>{conditions}</resprocessing>
  <itemfeedback ident="general_fb"><flow_mat><material><mattext texttype="text/html">&lt;p&gt;Because.&lt;/p&gt;</mattext></material></flow_mat></itemfeedback>
</item>"""


def labels(*pairs: tuple[str, str], card: str = "Single") -> str:
    inner = "".join(
        f'<response_label ident="{i}"><material><mattext texttype="text/plain">{t}</mattext></material></response_label>'
        for i, t in pairs
    )
    return f'<response_lid ident="response1" rcardinality="{card}"><render_choice>{inner}</render_choice></response_lid>'


def sets(condition: str) -> str:
    return f'<respcondition continue="No"><conditionvar>{condition}</conditionvar><setvar action="Set" varname="SCORE">100</setvar></respcondition>'


def canvas_quiz() -> str:
    fib = '<response_str ident="response1" rcardinality="Single"><render_fib fibtype="{}"><response_label ident="answer1"/></render_fib></response_str>'
    items = [
        canvas_item("g1", "Capital", "multiple_choice_question", labels(("11", "Paris"), ("12", "Lyon")),
                    sets('<varequal respident="response1">11</varequal>'), "2.0"),
        canvas_item("g2", "Sky", "true_false_question", labels(("8", "True"), ("9", "False")),
                    sets('<varequal respident="response1">9</varequal>')),
        canvas_item("g3", "Primes", "multiple_answers_question",
                    labels(("1", "2"), ("2", "3"), ("3", "4"), card="Multiple"),
                    sets('<and><varequal respident="response1">1</varequal><varequal respident="response1">2</varequal>'
                         '<not><varequal respident="response1">3</varequal></not></and>')),
        canvas_item("g4", "Name", "short_answer_question", fib.format("String"),
                    sets('<varequal respident="response1">dropout</varequal><varequal respident="response1">drop out</varequal>')),
        canvas_item("g5", "Range", "numerical_question", fib.format("Decimal"),
                    sets('<vargte respident="response1">1.0</vargte><varlte respident="response1">5.0</varlte>')),
        canvas_item("g6", "Margin", "numerical_question", fib.format("Decimal"),
                    sets('<or><varequal respident="response1">3.0</varequal><and><vargte respident="response1">2.9</vargte>'
                         '<varlte respident="response1">3.1</varlte></and></or>')),
        canvas_item("g7", "Essay", "essay_question", "", ""),
        canvas_item("g8", "Upload", "file_upload_question", "", ""),
    ]  # fmt: skip
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<questestinterop xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2">
  <assessment ident="a1" title="Week 1 Quiz"><section ident="root_section">{"".join(items)}</section></assessment>
</questestinterop>"""


def test_canvas_qti12_quiz() -> None:
    result = imported(canvas_quiz(), "canvas.xml")
    assert result.format == "qti"
    q = by_title(result)
    assert q["Capital"]["type"] == "single_choice" and q["Capital"]["points"] == 2.0
    assert q["Capital"]["explanation"] == "Because."
    assert q["Capital"]["tags"] == ["week-1-quiz"]
    assert grade_quick("single_choice", q["Capital"]["data"], "a").fraction == 1.0
    assert q["Sky"]["data"] == {"answer": False}
    primes = q["Primes"]["data"]
    assert [c["correct"] for c in primes["choices"]] == [True, True, False]
    assert q["Name"]["data"]["accept"] == ["dropout", "drop out"]
    assert (q["Range"]["data"]["answer"], q["Range"]["data"]["tolerance"]["abs"]) == (3.0, 2.0)
    margin = q["Margin"]["data"]
    assert margin["answer"] == 3.0 and abs(margin["tolerance"]["abs"] - 0.1) < 1e-9
    reasons = refused(result)
    assert "essay" in reasons["Essay (essay_question)"]
    assert "upload" in reasons["Upload (file_upload_question)"]


QUICK = load_bank(BUNDLED_DIR).questions


@pytest.mark.parametrize("fmt", ["moodle-xml", "qti"])
def test_every_bundled_quick_question_exports_and_imports_back_identically(fmt: str) -> None:
    assert len(QUICK) > 50
    result = imported(export_questions(QUICK, fmt), "export", fmt)
    assert result.error is None and not result.refused, result.refused
    # Questions with variants (per-student parameters) go out as Moodle's calculated questions;
    # QTI leaves them out, and says so.
    kept, skipped = exportable(QUICK, fmt)
    assert {q["slug"]: q for q in result.questions} == {q["slug"]: q for q in kept}
    with_variants = {q["slug"] for q in QUICK if q["data"].get("parameters")}
    assert {s.name for s in skipped} == (with_variants if fmt == "qti" else set())


def test_questions_with_variants_are_left_out_with_the_reason() -> None:
    from question_bank.loader import parse_question

    variant = parse_question(
        {
            "slug": "stop-epoch",
            "type": "numeric",
            "title": "Stop",
            "prompt": "Best at {b}, patience {p}: when does it stop?",
            "explanation": "b + p.",
            "parameters": {
                "b": {"min": 3, "max": 9, "step": 1},
                "p": {"min": 2, "max": 5, "step": 1},
            },
            "answer_formula": "b + p",
        }
    )
    kept, skipped = exportable([variant], "qti")
    assert kept == [] and "variants" in skipped[0].reason
    assert imported(export_questions([variant], "qti"), "e", "qti").questions == []
    # Moodle XML writes it as a calculated question, which reads back as it was.
    assert imported(export_questions([variant], "moodle-xml"), "e").questions == [variant]


def test_canvas_fill_in_multiple_blanks_and_dropdowns_become_cloze() -> None:
    def blank(var: str, *answers: tuple[str, str]) -> str:
        labels = "".join(
            f'<response_label ident="{i}"><material><mattext>{t}</mattext></material></response_label>'
            for i, t in answers
        )
        return f'<response_lid ident="response_{var}"><material><mattext>{var}</mattext></material><render_choice>{labels}</render_choice></response_lid>'

    def adds(var: str, ident: str) -> str:
        return f'<respcondition><conditionvar><varequal respident="response_{var}">{ident}</varequal></conditionvar><setvar varname="SCORE" action="Add">50.00</setvar></respcondition>'

    fimb = canvas_item(
        "c1",
        "Blanks",
        "fill_in_multiple_blanks_question",
        blank("first", ("1", "dropout"), ("2", "Dropout")) + blank("second", ("3", "L2")),
        adds("first", "1") + adds("first", "2") + adds("second", "3"),
    )
    fimb = fimb.replace(
        "&lt;p&gt;Blanks?&lt;/p&gt;", "&lt;p&gt;Use [first] and [second].&lt;/p&gt;"
    )
    drops = canvas_item(
        "c2",
        "Drops",
        "multiple_dropdowns_question",
        blank("pick", ("7", "yes"), ("8", "no")),
        adds("pick", "8"),
    )
    drops = drops.replace("&lt;p&gt;Drops?&lt;/p&gt;", "&lt;p&gt;Is it [pick]?&lt;/p&gt;")
    doc = f'<questestinterop><objectbank ident="b">{fimb}{drops}</objectbank></questestinterop>'
    result = imported(doc, "bank.xml")
    assert not result.refused, result.refused
    q = by_title(result)
    assert q["Blanks"]["prompt"] == "Use {{blank:b1}} and {{blank:b2}}."
    assert q["Blanks"]["data"]["blanks"][0]["accept"] == ["dropout", "Dropout"]
    choice = q["Drops"]["data"]["blanks"][0]
    assert choice["kind"] == "choice" and [c["correct"] for c in choice["choices"]] == [False, True]


def test_qti_match_and_order_interactions() -> None:
    match = f"""<assessmentItem xmlns="{QTI21}" identifier="match" title="Match">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="directedPair">
    <correctResponse><value>L1 S</value><value>L2 W</value></correctResponse>
  </responseDeclaration>
  <itemBody><matchInteraction responseIdentifier="RESPONSE" shuffle="true" maxAssociations="2">
    <prompt>Match the penalty to its effect.</prompt>
    <simpleMatchSet><simpleAssociableChoice identifier="L1" matchMax="1">L1</simpleAssociableChoice>
      <simpleAssociableChoice identifier="L2" matchMax="1">L2</simpleAssociableChoice></simpleMatchSet>
    <simpleMatchSet><simpleAssociableChoice identifier="S" matchMax="1">sparse weights</simpleAssociableChoice>
      <simpleAssociableChoice identifier="W" matchMax="1">small weights</simpleAssociableChoice>
      <simpleAssociableChoice identifier="X" matchMax="1">no weights</simpleAssociableChoice></simpleMatchSet>
  </matchInteraction></itemBody>
  <responseProcessing template="http://www.imsglobal.org/question/qti_v2p1/rptemplates/match_correct"/>
</assessmentItem>"""
    order = f"""<qti-assessment-item xmlns="{QTI3}" identifier="order" title="Order">
  <qti-response-declaration identifier="RESPONSE" cardinality="ordered" base-type="identifier">
    <qti-correct-response><qti-value>B</qti-value><qti-value>A</qti-value><qti-value>C</qti-value></qti-correct-response>
  </qti-response-declaration>
  <qti-item-body><qti-order-interaction response-identifier="RESPONSE">
    <qti-prompt>Order the steps.</qti-prompt>
    <qti-simple-choice identifier="A">forward pass</qti-simple-choice>
    <qti-simple-choice identifier="B">zero the gradients</qti-simple-choice>
    <qti-simple-choice identifier="C">step</qti-simple-choice>
  </qti-order-interaction></qti-item-body>
</qti-assessment-item>"""
    q = by_title(imported(package(("m.xml", match), ("o.xml", order)), "p.zip"))
    pairs = q["Match"]["data"]["pairs"]
    assert [(p["left"], p["right"]) for p in pairs] == [
        ("L1", "sparse weights"),
        ("L2", "small weights"),
    ]
    assert q["Match"]["data"]["distractors"] == ["no weights"]
    assert q["Match"]["prompt"] == "Match the penalty to its effect."
    assert [i["text"] for i in q["Order"]["data"]["items"]] == [
        "zero the gradients",
        "forward pass",
        "step",
    ]


def test_qti12_without_canvas_metadata_reads_the_presentation() -> None:
    """Older QTI 1.2 writers (Blackboard, WebCT, Common Cartridge) name no question_type."""
    item = f"""<questestinterop><item ident="plain1" title="Plain choice">
  <presentation><material><mattext>Which is a regularizer?</mattext></material>
    {labels(("A", "dropout"), ("B", "a bigger batch"))}</presentation>
  <resprocessing><outcomes><decvar varname="SCORE" vartype="Integer" maxvalue="1"/></outcomes>
    <respcondition><conditionvar><varequal respident="response1">A</varequal></conditionvar>
      <setvar varname="SCORE" action="Set">1</setvar></respcondition></resprocessing>
</item></questestinterop>"""
    q = imported(item, "old.xml").questions[0]
    assert q["type"] == "single_choice" and q["prompt"] == "Which is a regularizer?"
    assert grade_quick("single_choice", q["data"], "a").fraction == 1.0


NEW_TYPES = [
    {
        "slug": "match-penalties",
        "type": "matching",
        "title": "Match",
        "prompt": "Match *them*.",
        "explanation": "Because.",
        "points": 2,
        "tags": ["weight-decay"],
        "pairs": [
            {"id": "l1", "left": "L1", "right": "sparse"},
            {"id": "l2", "left": "**L2**", "right": "small"},
        ],
        "distractors": ["none"],
    },
    {
        "slug": "order-steps",
        "type": "ordering",
        "title": "Order",
        "prompt": "Order the steps.",
        "explanation": "E.",
        "items": [
            {"id": "z", "text": "zero the gradients"},
            {"id": "f", "text": "forward"},
            {"id": "s", "text": "step"},
        ],
    },
    {
        "slug": "cloze-dropout",
        "type": "cloze",
        "title": "Cloze",
        "prompt": "Dropout {{blank:a}} with p = {{blank:p}} is {{blank:c}}.",
        "explanation": "E.",
        "blanks": [
            {
                "id": "a",
                "kind": "short_text",
                "accept": ["regularizes", "regularises"],
                "partial": [{"accept": "helps", "fraction": 0.5}],
            },
            {"id": "p", "kind": "numeric", "answer": 0.5, "tolerance": {"abs": 0.01}, "points": 2},
            {
                "id": "c",
                "kind": "choice",
                "choices": [
                    {"id": "a", "text": "common", "correct": True},
                    {"id": "b", "text": "rare: really {not}", "correct": False},
                ],
            },
        ],
    },
]


@pytest.mark.parametrize("fmt", ["moodle-xml", "qti"])
def test_matching_ordering_and_cloze_export_and_import_back(fmt: str) -> None:
    from question_bank.loader import parse_question

    questions = [parse_question(q) for q in NEW_TYPES]
    result = imported(export_questions(questions, fmt), "export", fmt)
    assert not result.refused, result.refused
    assert {q["slug"]: q for q in result.questions} == {q["slug"]: q for q in questions}


def test_a_qti_cloze_item_reads_on_its_own() -> None:
    """What another system gets: inline interactions, mappings and per-blank tolerance."""
    from question_bank.loader import parse_question

    package_bytes = export_questions([parse_question(NEW_TYPES[2])], "qti")
    item = zipfile.ZipFile(io.BytesIO(package_bytes)).read("items/cloze-dropout.xml")
    q = imported(item, "cloze.xml", "qti").questions[0]
    assert (
        q["prompt"].replace("\\", "") == "Dropout {{blank:a}} with p = {{blank:p}} is {{blank:c}}."
    )
    blanks = {b["id"]: b for b in q["data"]["blanks"]}
    assert blanks["a"]["partial"] == [{"accept": "helps", "fraction": 0.5}]
    assert blanks["p"]["tolerance"]["abs"] == 0.01
    assert [c["correct"] for c in blanks["c"]["choices"]] == [True, False]


def test_match_correct_on_a_string_is_case_sensitive() -> None:
    item = TEXT_ENTRY_3.replace("map_response", "match_correct")
    item = item.split("<qti-mapping")[0] + item.split("</qti-mapping>")[1]
    data = imported(item).questions[0]["data"]
    assert data["accept"] == ["York"] and data["case_sensitive"] is True
    assert grade_quick("short_text", data, "york").fraction == 0.0
