"""The step asked for gets into a how-to answer (issue 21, item 2).

On manuals read as held out, answers quoted the right section's explanation or its `show`
commands but not the line that does the job ("ip prefix-list NAME (permit|deny) PREFIX …" for
"block a prefix with a prefix list"), and opened on a colour panel's "Add Color" button rather
than the "(FILL COLOR)" button's own text. These fixtures have the same shapes with made-up
commands and controls.
"""

from __future__ import annotations

from m2io.generators.extractive import ExtractiveGenerator
from m2io.generators.focus import (
    Line,
    command_form,
    heading_like,
    introduces_form,
    passages,
    units,
)
from m2io.generators.sections import defining_command, keys, lead_section
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

FILTERS = (
    "Address filters\n\n"
    "Basic filtering is done by addr-filter as shown in the following example.\n\n"
    "show addr-filter WORD [json]: Display the specified address filter.\n\n"
    "Route Filter\n\n"
    "The most powerful filtering mechanism based on addresses has length range specification "
    "and sequential number specification as well as the functionality of an address list. "
    "Without one, everything is permitted.\n\n"
    "route-filter NAME (permit|deny) A.B.C.D/M [le LEN]:\n\n"
    "route-filter NAME seq NUMBER (permit|deny) A.B.C.D/M [le LEN]: You can create a route-filter "
    "using above commands.\n\n"
    "seq: seq number can be set either automatically or manually.\n\n"
    "le: Specifies prefix length. In the case of no le, the prefix length must match exactly "
    "the length specified in the route filter.\n\n"
    "route-filter description\n\n"
    "route-filter NAME description DESC: Descriptions may be added. This command adds a "
    "description to the route filter.\n\n"
    "Showing route-filter\n\n"
    "show route-filter [json]: Display all route filters.\n\n"
    "show route-filter NAME [json]: Show route filter can be used with a route filter name.\n\n"
    "show route-filter summary [json]:\n\n"
    "show route-filter detail [json]:\n\n"
    "clear route-filter [NAME]: Clears the counters of all route filters. Clear route filter "
    "can be used with a specified NAME.\n"
)

DEFINE, SHOW = FILTERS.split("route-filter description\n\n")
SHOW = "route-filter description\n\n" + SHOW

PANEL = (
    "Standard Colors\n\n"
    "This is a panel of 32 standard color buttons. Any of these colors may be selected by "
    "clicking on the color.\n\n"
    "Add Color: This button will add a new user-defined color in the box. Its initial color is "
    "black. The color sliders may be used to change the color.\n\n"
    "Lookup Color: This button will also add a new user-defined color, by getting a color from "
    "the display.\n"
)
ATTRIBUTES = (
    "(PEN COLOR)\n\n"
    "Set the color used to draw objects. Clicking this button with mouse button 1 will popup "
    "the Colors Panel.\n\n"
    "(FILL COLOR)\n\n"
    "Set the color used to fill the region inside objects. Clicking this button with mouse "
    "button 1 will popup the Colors Panel. The fill color is only effective when the fill style "
    "is set to other than None.\n\n"
    "(LINE WIDTH)\n\n"
    "Set the width of lines to draw the outline of objects.\n"
)


def _retrieval(*parts: tuple[str, int, str, str]) -> Retrieval:
    """One chunk per part (doc id, chunk number, section, text), ranked in the order given."""
    chunks = tuple(
        RetrievedChunk(
            Chunk(
                f"{doc}#{n}",
                doc,
                text,
                start=10_000 * n,
                source=Source(doc, doc, f"{doc}.html", section),
            ),
            1.0 - 0.1 * i,
            dense_score=0.8 - 0.05 * i,
        )
        for i, (doc, n, section, text) in enumerate(parts)
    )
    return Retrieval("q", chunks, ())


def _texts(question: str, retrieval: Retrieval) -> list[str]:
    gen = ExtractiveGenerator(embedder=None)
    return [s.text for s in gen.generate(question, retrieval).sentences]


def test_a_howto_answer_takes_the_command_that_defines_what_the_question_names() -> None:
    texts = _texts(
        "How do I block a network with a route filter?",
        # the retriever ranks the chunk of the description and show commands first
        _retrieval(("filter", 2, "Route Filter", SHOW), ("filter", 1, "Address filters", DEFINE)),
    )
    # the defining form and its description, together, before the commands that show or clear
    form = "route-filter NAME (permit|deny) A.B.C.D/M [le LEN]:"
    assert form in texts, texts
    assert texts[texts.index(form) + 1].startswith("route-filter NAME seq NUMBER"), texts
    # the commands that describe, show or clear what it made are not what was asked
    others = ("show ", "clear ", "route-filter NAME description")
    assert not any(t.startswith(others) for t in texts), texts
    # it opens on the section that defines it, not on the address filters before it
    assert not any(t.startswith(("Basic filtering", "show addr-filter")) for t in texts), texts


def test_a_command_form_alone_before_a_colon_is_one_entry_with_the_next_line() -> None:
    form = "route-filter NAME (permit|deny) A.B.C.D/M [le LEN]:"
    nxt = "route-filter NAME seq NUMBER (permit|deny) A.B.C.D/M [le LEN]: You can create one."
    assert command_form(nxt) == "route-filter NAME seq NUMBER (permit|deny) A.B.C.D/M [le LEN]"
    assert introduces_form(form, nxt)
    # another command's description, or prose ending in a colon, is not its description
    assert not introduces_form(form, "show route-filter [json]: Display all route filters.")
    assert not introduces_form("The file initially looks like this:", nxt)
    lines = [Line(t, "c#0", 0, None) for t in (form, nxt, "seq: seq number can be set.")]
    (first, second) = units(lines)
    assert (first.first, first.last) == (0, 1)
    assert (second.first, second.last) == (2, 2)


def test_a_control_named_in_capitals_in_parentheses_titles_its_section() -> None:
    assert heading_like("(FILL COLOR)")
    assert heading_like("(CIRCLE AND ELLIPSE)")
    # a remark in parentheses is a sentence
    assert not heading_like("(Level 0 is the default.)")
    assert not heading_like("(see below)")
    texts = _texts(
        "How do I change the colour an object is filled with?",
        _retrieval(
            ("attributes", 24, "Colors Panel", PANEL),
            ("attributes", 13, "Object Attributes", ATTRIBUTES),
        ),
    )
    assert texts[0] == "Set the color used to fill the region inside objects.", texts
    assert "(FILL COLOR)" not in texts  # a heading: the sources name the section
    assert not any(t.startswith(("Add Color", "The color sliders")) for t in texts), texts


def test_british_spellings_meet_a_manual_that_writes_or() -> None:
    assert keys("change the fill colour") == keys("change the fill color")
    assert keys("a neighbour's behaviour") == keys("a neighbor's behavior")
    assert "four" in keys("four hours")  # short words keep their spelling


DRAWING = (
    "Drawing Objects\n\n"
    "Buttons to create new objects are in the drawing mode panel. The drawing mode is selected "
    "by clicking on the corresponding button, and its image turns negative.\n\n"
    "(RING AND OVAL)\n\n"
    "Create rings and ovals. To draw a ring, mouse button 1 is used. For an oval, mouse button "
    "2 is used.\n\n"
    "Rings\n\n"
    "Users can specify the center point and either the radius or diameter of the ring. In the "
    "radius mode, click mouse button 1 at the center point of the ring first, and then click "
    "mouse button 1 again at any point on the ring. In the diameter mode, click mouse button 1 "
    "at any point on the ring, and then again at the opposite point.\n\n"
    "Related Attributes\n\n"
    "Related Attributes: depth, pen color, fill color, fill style, line width, line style\n\n"
    "Ovals\n\n"
    "As for a ring, users can specify the center point and radius of the oval.\n"
)


def test_a_short_control_description_goes_on_in_the_subsection_the_question_names() -> None:
    texts = _texts("How do I draw a ring?", _retrieval(("drawing", 0, "Drawing Objects", DRAWING)))
    assert texts[0] == "Create rings and ovals.", texts
    assert any(t.startswith("In the radius mode, click mouse button 1") for t in texts), texts
    assert any(t.startswith("In the diameter mode") for t in texts), texts
    # the subsections the question does not name stay out
    assert not any(t.startswith(("Related Attributes", "As for a ring")) for t in texts), texts


def test_a_command_with_a_keyword_the_question_does_not_say_does_not_define_it() -> None:
    question = keys("How do I change the local preference of routes with a route map?")
    lines = [
        Line(t, "c#0", 0, None)
        for t in (
            "route-map NAME optimization: Enable route-map processing optimization.",
            "set local-preference LOCAL_PREF: Set the local preference.",
            "route-map NAME (permit|deny) ORDER: Configure the order of an entry.",
        )
    ]
    found = defining_command(question, units(lines), [lines])
    assert found is not None and found.first == 2


OPTIONS = (
    "Options\n\n"
    "--create <new-branch>: Create a new branch named <new-branch> before switching to it.\n\n"
    "--force-create <new-branch>: Similar to --create except that if <new-branch> already "
    "exists, it will be reset.\n\n"
    "--detach: Switch to a commit for inspection and discardable experiments.\n"
)


def test_a_short_definition_entry_does_not_take_its_siblings() -> None:
    question = "How do I create a new branch and switch to it?"
    ps = passages(_retrieval(("switch", 0, "Options", OPTIONS)))
    all_units = [u for k, p in enumerate(ps) for u in units(p, k)]
    lead = lead_section(question, all_units, ps, all_units[1])
    assert lead is not None and lead.title == "--create <new-branch>"
    shown = [ps[u.passage][u.first].text for u in lead.units]
    assert not any(t.startswith("--force-create") for t in shown), shown
