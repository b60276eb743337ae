"""Moodle XML, written from Moodle's XML format documentation (docs.moodle.org/en/Moodle_XML_format)
and what Moodle's exporter writes (CDATA, HTML entities, category questions, penalty, idnumber)."""

from __future__ import annotations

from question_bank.types import grade_quick
from tests.question_bank.interop_helpers import (
    by_title,
    imported,
    needs_cloze,
    needs_fractions,
    needs_matching,
    needs_partial,
    refused,
)


def quiz(*questions: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n<quiz>\n' + "\n".join(questions) + "\n</quiz>\n"


CATEGORY = """<question type="category"><category><text>$course$/top/Regularization/Weight decay</text></category>
<info format="html"><text></text></info><idnumber></idnumber></question>"""


def question(
    qtype: str, name: str, body: str, text: str = "<p>Question text</p>", extra: str = ""
) -> str:
    return f"""<question type="{qtype}">
  <name><text>{name}</text></name>
  <questiontext format="html"><text><![CDATA[{text}]]></text></questiontext>
  <generalfeedback format="html"><text><![CDATA[<p>General feedback.</p>]]></text></generalfeedback>
  <defaultgrade>2.0000000</defaultgrade>
  <penalty>0.3333333</penalty>
  <hidden>0</hidden>
  <idnumber>{extra}</idnumber>
  {body}
</question>"""


def answer(fraction: str, text: str, feedback: str = "", fmt: str = "html", extra: str = "") -> str:
    return f"""<answer fraction="{fraction}" format="{fmt}"><text><![CDATA[{text}]]></text>
  <feedback format="html"><text>{feedback}</text></feedback>{extra}</answer>"""


MULTICHOICE = question(
    "multichoice",
    "Decay",
    "<single>true</single><shuffleanswers>true</shuffleanswers><answernumbering>abc</answernumbering>"
    + answer("100", "<p>Shrinks the weights</p>", "Yes")
    + answer("0", "<p>Grows the weights</p>")
    + answer("0", "<p>Nothing &amp; nothing</p>"),
    text="<p>What does weight decay do with \\(\\lambda &gt; 0\\)?</p>",
    extra="decay-effect",
)
TRUEFALSE = question(
    "truefalse",
    "TF",
    answer("0", "true", fmt="moodle_auto_format")
    + answer("100", "false", fmt="moodle_auto_format"),
)
SHORT = question(
    "shortanswer",
    "Short",
    "<usecase>0</usecase>"
    + answer("100", "dropout")
    + answer("100", "drop*out")
    + answer("0", "*", "No"),
)
NUMERICAL = question(
    "numerical",
    "Numerical",
    answer("100", "3.75", extra="<tolerance>0.01</tolerance>")
    + answer("0", "*", extra="<tolerance>0</tolerance>")
    + "<units><unit><multiplier>1</multiplier><unit_name>cm</unit_name></unit></units>",
)


def test_the_basic_types_with_their_keys_points_tags_and_slugs() -> None:
    result = imported(quiz(CATEGORY, MULTICHOICE, TRUEFALSE, SHORT, NUMERICAL), "questions.xml")
    assert result.format == "moodle-xml" and not result.refused, result.refused
    q = by_title(result)
    decay = q["Decay"]
    assert decay["slug"] == "decay-effect"  # the idnumber
    assert decay["points"] == 2.0
    assert decay["tags"] == ["regularization", "weight-decay"]
    assert decay["prompt"] == "What does weight decay do with $\\lambda > 0$?"
    assert [c["text"] for c in decay["data"]["choices"]] == [
        "Shrinks the weights",
        "Grows the weights",
        "Nothing & nothing",
    ]
    assert decay["data"]["shuffle"] is True
    assert decay["explanation"].startswith("General feedback.")
    assert "Yes" in decay["explanation"]
    assert q["TF"]["data"] == {"answer": False}
    short = q["Short"]["data"]
    assert short["accept"] == ["dropout"]
    assert grade_quick("short_text", short, "Drop-the-out").fraction == 1.0  # the wildcard
    assert grade_quick("short_text", short, "weight decay").fraction == 0.0
    numeric = q["Numerical"]["data"]
    assert numeric["answer"] == 3.75 and numeric["tolerance"]["abs"] == 0.01
    assert numeric["unit"] == "cm"


def test_slugs_from_names_are_unique_and_stable() -> None:
    same = question("truefalse", "Question 1", answer("100", "true") + answer("0", "false"))
    first = [q["slug"] for q in imported(quiz(same, same, same)).questions]
    assert first == ["question-1", "question-1-2", "question-1-3"]
    assert first == [q["slug"] for q in imported(quiz(same, same, same)).questions]


def test_ungradable_and_broken_questions_are_refused_by_name_the_rest_imported() -> None:
    essay = question("essay", "Essay", "<responseformat>editor</responseformat>")
    description = question("description", "Just text", "")
    no_right = question(
        "multichoice",
        "No right answer",
        "<single>true</single>" + answer("50", "a") + answer("0", "b"),
    )
    not_100 = question(
        "multichoice",
        "Multi not 100",
        "<single>false</single>" + answer("50", "a") + answer("30", "b") + answer("-100", "c"),
    )
    cloze_empty = question("cloze", "Empty cloze", "", text="<p>No blanks at all</p>")
    image = question(
        "truefalse",
        "Picture",
        answer("100", "true") + answer("0", "false"),
        text='<p>See <img src="@@PLUGINFILE@@/graph.png" alt="graph"></p>',
    )
    unknown = question("ddwtos", "Drag", "")
    result = imported(
        quiz(essay, description, no_right, not_100, cloze_empty, image, unknown, TRUEFALSE)
    )
    assert [q["title"] for q in result.questions] == ["TF"]
    reasons = refused(result)
    assert "essay" in reasons["Essay (essay)"]
    assert "no answer" in reasons["Just text (description)"]
    assert "no answer earns full marks" in reasons["No right answer (multichoice)"]
    assert "add up to 80 %" in reasons["Multi not 100 (multichoice)"]
    assert "no subquestions" in reasons["Empty cloze (cloze)"]
    assert "image" in reasons["Picture (truefalse)"]
    assert "Drag (ddwtos)" in reasons


def test_html_is_sanitised_into_markdown() -> None:
    text = (
        '<p onclick="x()">A <strong>bold</strong> <a href="javascript:alert(1)">link</a></p>'
        "<script>alert(1)</script><style>p{}</style><ul><li>one</li><li>two</li></ul>"
        "<p>&lt;b&gt;not a tag&lt;/b&gt; costs $5</p>"
    )
    tf = question("truefalse", "Html", answer("100", "true") + answer("0", "false"), text=text)
    prompt = by_title(imported(quiz(tf)))["Html"]["prompt"]
    assert "alert" not in prompt and "onclick" not in prompt and "javascript" not in prompt
    assert "**bold**" in prompt and "- one\n- two" in prompt
    assert "<" not in prompt.replace("\\<", "")  # never raw HTML
    assert "\\$5" in prompt  # not math


def test_text_formats() -> None:
    def tf(fmt: str, text: str) -> str:
        return f"""<question type="truefalse"><name><text>{fmt}</text></name>
<questiontext format="{fmt}"><text>{text}</text></questiontext>
{answer("100", "true")}{answer("0", "false")}</question>"""

    q = by_title(
        imported(
            quiz(
                tf("plain_text", "2 * 3 &lt;b&gt; stays"),
                tf("moodle_auto_format", "line one\nline two"),
                tf("markdown", "Some *Markdown* with $x$"),
            )
        )
    )
    assert q["plain_text"]["prompt"] == "2 \\* 3 \\<b\\> stays"
    assert q["moodle_auto_format"]["prompt"] == "line one\\\nline two"
    assert q["markdown"]["prompt"] == "Some *Markdown* with $x$"


def test_not_moodle_xml_is_an_error_not_a_traceback() -> None:
    for data in (
        b"<quiz><question",
        b"<other/>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><quiz>&a;</quiz>',
    ):
        result = imported(data, "bad.xml", "moodle-xml")
        assert result.error is not None and not result.questions


@needs_fractions
def test_per_answer_fractions() -> None:
    partial = question(
        "multichoice",
        "Partial",
        "<single>true</single>" + answer("100", "a") + answer("50", "b") + answer("0", "c"),
    )
    multi = question(
        "multichoice",
        "Multi",
        "<single>false</single>"
        + answer("33.33333", "a")
        + answer("33.33333", "b")
        + answer("33.33334", "c")
        + answer("-50", "d"),
    )
    q = by_title(imported(quiz(partial, multi)))
    assert grade_quick("single_choice", q["Partial"]["data"], "b").fraction == 0.5
    assert grade_quick("multiple_choice", q["Multi"]["data"], ["a", "b", "c"]).fraction == 1.0
    assert abs(grade_quick("multiple_choice", q["Multi"]["data"], ["a", "d"]).fraction) < 1e-9


@needs_partial
def test_partial_credit_and_case_on_short_answers() -> None:
    short = question(
        "shortanswer", "Case", "<usecase>1</usecase>" + answer("100", "ReLU") + answer("80", "relu")
    )
    data = by_title(imported(quiz(short)))["Case"]["data"]
    assert data["case_sensitive"] is True
    assert data["partial"] == [{"accept": "relu", "fraction": 0.8}]
    assert grade_quick("short_text", data, "relu").fraction == 0.8


@needs_matching
def test_matching() -> None:
    match = question(
        "matching",
        "Match",
        "<shuffleanswers>true</shuffleanswers>"
        "<subquestion format='html'><text>L1</text><answer><text>sparse</text></answer></subquestion>"
        "<subquestion format='html'><text>L2</text><answer><text>small</text></answer></subquestion>"
        "<subquestion format='html'><text></text><answer><text>huge</text></answer></subquestion>",
    )
    data = by_title(imported(quiz(match)))["Match"]["data"]
    assert [(p["left"], p["right"]) for p in data["pairs"]] == [("L1", "sparse"), ("L2", "small")]
    assert data["distractors"] == ["huge"]


@needs_cloze
def test_cloze() -> None:
    text = (
        "<p>Dropout is {1:SHORTANSWER:=regularization#yes~%50%regularisation} and p = "
        "{2:NUMERICAL:=0.5:0.01} is {1:MULTICHOICE:=common~rare}.</p>"
    )
    cloze = question("cloze", "Cloze", "", text=text)
    q = by_title(imported(quiz(cloze)))["Cloze"]
    assert q["type"] == "cloze"
    assert q["prompt"].count("{{blank:") == 3
    kinds = [b["kind"] for b in q["data"]["blanks"]]
    assert kinds == ["short_text", "numeric", "choice"]
    assert q["data"]["blanks"][1]["points"] == 2.0


def test_ordering_items_in_their_correct_order() -> None:
    ordering = question(
        "ordering",
        "Order",
        "<layouttype>VERTICAL</layouttype><selecttype>ALL</selecttype>"
        + answer("1", "<p>zero the gradients</p>")
        + answer("2", "<p>forward pass</p>")
        + answer("3", "<p>backward pass</p>"),
    )
    data = by_title(imported(quiz(ordering)))["Order"]["data"]
    assert [i["text"] for i in data["items"]] == [
        "zero the gradients",
        "forward pass",
        "backward pass",
    ]


def test_calculated_questions_become_questions_with_variants() -> None:
    def wildcard(name: str, low: str, high: str, decimals: str) -> str:
        return (
            "<dataset_definition><status><text>private</text></status>"
            f"<name><text>{name}</text></name><type>calculated</type>"
            "<distribution><text>uniform</text></distribution>"
            f"<minimum><text>{low}</text></minimum><maximum><text>{high}</text></maximum>"
            f"<decimals><text>{decimals}</text></decimals><itemcount>0</itemcount>"
            "</dataset_definition>"
        )

    tolerance = "<tolerance>0.01</tolerance><tolerancetype>1</tolerancetype>"
    calc = question(
        "calculated",
        "Calc",
        answer("100", "{a} * {b} + pi()", extra=tolerance)
        + "<dataset_definitions>"
        + wildcard("a", "1", "10", "1")
        + wildcard("b", "2", "5", "0")
        + "</dataset_definitions>",
        text="<p>Multiply {a} by {b} and add pi ({={a}*{b}} + pi).</p>",
    )
    q = by_title(imported(quiz(calc)))["Calc"]
    assert q["prompt"] == "Multiply {a} by {b} and add pi ({=a*b} \\+ pi)."
    data = q["data"]
    assert data["answer_formula"] == "a * b + pi"
    assert data["parameters"]["a"] == {"min": 1.0, "max": 10.0, "step": 0.1}
    assert data["tolerance"] == {"abs": 0.0, "rel": 0.01}
    from question_bank.types import draw_variant, resolve

    variant = draw_variant(data, "alice")
    assert variant is not None
    mine = resolve("numeric", data, variant)
    assert grade_quick("numeric", mine, variant["a"] * variant["b"] + 3.14159265).fraction == 1.0
    multi = question("calculatedmulti", "Multi", "")
    assert "calculated multiple choice" in refused(imported(quiz(multi)))["Multi (calculatedmulti)"]
