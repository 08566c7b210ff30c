"""How-to answers open on the section that answers and keep its procedure whole (issue 21,
item 2).

On git-doc, a manual nobody tuned on, "How do I find the commit that introduced a bug?" got the
chapter's introduction and not `git bisect start`: the block of commands was just past the
180-word budget. "How do I undo my last commit but keep the changes?" opened on a howto's story
of a revert, while the entry that says what to do came mid-answer. These fixtures have the same
shapes: a narrative neighbour ranked first, then the section whose title says the question's
action and object, with a procedure longer than the room the narrative leaves.
"""

from __future__ import annotations

from m2io.generators.extractive import ExtractiveGenerator
from m2io.generators.sections import howto, term_of
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

STORY = (
    "Exploring the history\n\n"
    "The history of a project is a chain of snapshots, each recorded with who made it and why. "
    "Tools for exploring that history are fast and flexible, and they help whenever a bug "
    "appears. We start with one tool that is useful for finding the commit that introduced a "
    "bug. It narrows the search quickly even across thousands of commits of history. Many "
    "people never need more than this one tool to find the commit that broke the build.\n\n"
    "Finding the commit that introduced a bug\n\n"
    "Suppose version 2.6 of your project worked, but the version at master crashes. Sometimes "
    "the best way to find the cause of such a regression is a search through the history of "
    "the project for the particular commit that caused the problem, halving the range of "
    "suspects at each step until one commit is left. It is slower to read every change by hand, "
    "and reading the log rarely names the guilty commit, because the message of a commit says "
    "what its author meant to change and not what it broke, and a crash may come from a change "
    "whose message looks harmless. A bisection needs no more than about fifteen builds even "
    "when the history between the good and the bad version has many thousands of commits, "
    "which is why it is worth learning before any other tool that explores history.\n\n"
    "The bisect command can help you do this:\n\n"
    "$ vcs bisect start\n$ vcs bisect good v2.6\n$ vcs bisect bad master\n\n"
    "Compile and test the version it checks out. Then:\n\n$ vcs bisect bad\n\n"
    "After about 13 tests it will output the id of the guilty commit.\n\n"
    "Finally, run\n\n$ vcs bisect reset\n\nto return you to the branch you were on before.\n"
)


def _retrieval(*pages: tuple[str, str, str]) -> Retrieval:
    """One chunk per page (doc id, section, text), ranked in the order given."""
    chunks = tuple(
        RetrievedChunk(
            Chunk(f"{doc}#0", doc, text, source=Source(doc, doc, f"{doc}.html", section)),
            1.0 - 0.1 * i,
            dense_score=0.8 - 0.05 * i,
        )
        for i, (doc, section, text) in enumerate(pages)
    )
    return Retrieval("q", chunks, ())


def test_a_procedure_past_the_budget_keeps_its_commands_and_loses_the_story() -> None:
    gen = ExtractiveGenerator(embedder=None)
    question = "How do I find the commit that introduced a bug?"
    texts = [
        s.text for s in gen.generate(question, _retrieval(("manual", "Exploring", STORY))).sentences
    ]
    commands = [t for t in texts if t.startswith("$ ")]
    assert commands == [
        "$ vcs bisect start",
        "$ vcs bisect good v2.6",
        "$ vcs bisect bad master",
        "$ vcs bisect bad",
        "$ vcs bisect reset",
    ], texts
    # each with what introduces it, in the author's order, and the answer opens on the section
    assert (
        texts[texts.index("$ vcs bisect start") - 1] == "The bisect command can help you do this:"
    )
    assert texts[texts.index("$ vcs bisect bad") - 1] == "Then:"
    assert texts[texts.index("$ vcs bisect reset") - 1] == "Finally, run"
    assert texts[0].startswith("Suppose version 2.6")
    assert not any(t.startswith("The history of a project") for t in texts)
    assert sum(len(t.split()) for t in texts) <= gen.budget(question)
    # without the rule the commands do not fit after the narrative
    old = ExtractiveGenerator(embedder=None, howto_sections=False)
    old_texts = [s.text for s in old.generate(question, _retrieval(("m", "E", STORY))).sentences]
    assert "$ vcs bisect reset" not in old_texts


REVERT_STORY = (
    "How to revert an existing commit\n\n"
    "One of the changes I pulled into the main branch turns out to break the build. Here is "
    "what I did to revert the change in the main branch, using the core tools. First, prepare a "
    "throw-away branch in case I make a mess of it. Then find which commit to revert: the top "
    "of the main branch is a merge, and its second parent has the change I want to undo."
)
RESET_EXAMPLES = (
    "Reset a single file in the index: Suppose you have added a file to your index, but later "
    "decide you do not want to add it to your commit.\n\n"
    "$ vcs reset -- frotz.c\n\n"
    "Undo the last commit and keep the changes in the working tree: Suppose you committed too "
    "early and want the changes back in your working tree to go on editing them.\n\n"
    "$ vcs reset HEAD^\n\n"
    "The commit is gone from the history while every change stays in your working tree."
)


def test_a_how_to_answer_opens_on_the_entry_that_says_the_action_and_object() -> None:
    question = "How do I undo my last commit but keep the changes in my working tree?"
    retrieval = _retrieval(
        ("howto-revert", "How to revert an existing commit", REVERT_STORY),
        ("reset", "EXAMPLES", RESET_EXAMPLES),
    )
    texts = [
        s.text for s in ExtractiveGenerator(embedder=None).generate(question, retrieval).sentences
    ]
    assert texts[0].startswith("Undo the last commit and keep the changes"), texts
    assert texts[1] == "$ vcs reset HEAD^"
    # another entry joins only when its title and first sentences say the question's terms
    assert "$ vcs reset -- frotz.c" not in texts and not any("single file" in t for t in texts)
    before = ExtractiveGenerator(embedder=None, howto_sections=False)
    assert before.generate(question, retrieval).sentences[0].text.startswith("One of the changes")


def test_other_questions_are_answered_as_before() -> None:
    """The dev sets' templated questions are not how-to questions: their answers do not move."""
    retrieval = _retrieval(
        ("howto-revert", "How to revert an existing commit", REVERT_STORY),
        ("reset", "EXAMPLES", RESET_EXAMPLES),
    )
    for question in (
        "What does the manual say about undoing the last commit?",
        "What is a working tree?",
    ):
        assert not howto(question)
        on = ExtractiveGenerator(embedder=None).generate(question, retrieval)
        off = ExtractiveGenerator(embedder=None, howto_sections=False).generate(question, retrieval)
        assert on.sentences == off.sentences


def test_how_to_questions_and_one_line_entries_are_recognised() -> None:
    assert howto("How do I tag a release?") and howto("how to make git ignore files")
    assert howto("Can I undo a commit?") and howto("Show me how to crop an image")
    assert not howto("What does the GIMP documentation say about Layers in Dialogs?")
    assert term_of("Keep changes in working tree: Suppose you commit.") == (
        "Keep changes in working tree"
    )
    assert term_of("Note: this is only a remark.") == ""
    assert term_of("add: Add a remote named <name> for the repository at <URL>.") == "add"
    assert term_of("-c <new-branch>: Create a new branch.") == "-c <new-branch>"
    assert term_of("two points: distance between these two points;") == ""
    assert term_of("The grid is a unit grid: each subdivision is one unit.") == ""  # a clause
    faq = "How do I ignore changes to a tracked file?: Git does not provide a way to do this."
    assert term_of(faq) == "How do I ignore changes to a tracked file"
    assert term_of("Commit f86a374 (pack-bitmap.c: fix a leak) noticed that") == ""
    # one value after the colon is the sentence's object, not a definition
    assert term_of("To embed the whole window use the URI: https://example.com:9090/") == ""


def test_an_answer_never_opens_on_a_sentence_pointing_at_something_it_does_not_name() -> None:
    """An answer opened on "Use this dialog to …" with no dialog named: in a how-to answer the
    heading above it, which names the dialog, now comes first; in any answer, the sentence
    before it does."""
    from m2io.generators.openers import refers_back

    page = (
        "Printing\n\nThe print dialog sends the photo to a printer.\n\n"
        "Layers Dialog\n\nUse this dialog to arrange the layers of an image in their stacking "
        "order. Each row of the list shows one layer with its name and a thumbnail."
    )
    question = "How do I arrange the layers of an image?"
    gen = ExtractiveGenerator(embedder=None, max_words=25)
    texts = [s.text for s in gen.generate(question, _retrieval(("dialogs", "", page))).sentences]
    assert texts[:2] == ["Layers Dialog", texts[1]] and texts[1].startswith("Use this dialog"), (
        texts
    )
    grid = (
        "Display grid\n\nIt is possible to display a unit grid under each figure. The "
        "corresponding command can be accessed from the View > Show grid menu, or with Ctrl-G."
    )
    texts = [
        s.text
        for s in ExtractiveGenerator(embedder=None, max_words=25)
        .generate("Where is the show grid menu command?", _retrieval(("grid", "", grid)))
        .sentences
    ]
    assert texts[0] == "It is possible to display a unit grid under each figure.", texts
    assert refers_back("These options are described below.")
    assert not refers_back("Click the button to open the dialog.")
    assert not refers_back("This is the default.")


def test_another_section_joins_a_procedure_only_when_it_is_about_the_question() -> None:
    """A sentence that repeats the question's words deep inside a section about something else
    ("Signing keys") does not join: the answer is the recipe, not a tour of the neighbours."""
    recipe = (
        "Recipe: tagging a release\n\nTo tag a release of the project:\n\n"
        "$ vcs tag -s v1.2 main\n$ vcs push origin v1.2\n"
    )
    keys_page = (
        "Signing keys\n\nKeys are kept in the keyring of the user. Each key has an owner and an "
        "expiry date. A signed tag of a release uses the key of whoever tags the release."
    )
    retrieval = _retrieval(("recipes", "Recipe", recipe), ("keys", "Signing keys", keys_page))
    texts = [
        s.text
        for s in ExtractiveGenerator(embedder=None)
        .generate("How do I tag a release?", retrieval)
        .sentences
    ]
    assert texts == [
        "To tag a release of the project:",
        "$ vcs tag -s v1.2 main",
        "$ vcs push origin v1.2",
    ], texts


def test_a_heading_that_names_nothing_pointed_at_is_not_shown() -> None:
    """ "Introduction" above "These filters are mostly used on web images." does not say which
    filters: showing it adds a line and names nothing (it moved figures on the GIMP dev set)."""
    page = (
        "Introduction\n\nThese filters are mostly used on images intended for web sites. The "
        "image map filter adds clickable hot spots to an image."
    )
    ans = ExtractiveGenerator(embedder=None).generate(
        "What does the manual say about filters for web sites?", _retrieval(("web", "", page))
    )
    assert ans.sentences[0].text.startswith("These filters"), [s.text for s in ans.sentences]


def test_a_section_takes_the_opening_from_the_retrievers_only_by_its_heading() -> None:
    """Gutenprint's PDF: "How do I add my printer in CUPS …?" opened on a list line read as a
    heading ("zh_TW Simplified Chinese") whose first sentences repeat the question's words,
    over the retriever's first section, "Printer Installation"."""
    install = (
        "Printer Installation\n\n"
        "The procedure to add a printer depends on the printing system in use. Pick the "
        "driver's PPD file for your printer in the printing system's tools, and the printer "
        "is added with the driver."
    )
    notes = (
        "zh_TW Simplified Chinese\n\n"
        "The CUPS driver of Gutenprint now adds a printer for the PPD files of every printer. "
        "Please see the bugs for the full details of this change to the driver."
    )
    question = "How do I add my printer in CUPS with the Gutenprint driver?"
    retrieval = _retrieval(("install", "Printer Installation", install), ("notes", "zh_TW", notes))
    answer = ExtractiveGenerator(embedder=None).generate(question, retrieval)
    assert answer.sentences[0].text.startswith("The procedure to add a printer"), [
        s.text for s in answer.sentences
    ]


def test_a_colon_inside_a_sentence_starts_no_entry() -> None:
    """Gutenprint's "Inspect each device line for a device that begins with epson: or canon: ."
    was read as an entry's term, which cut the queue-update procedure after its first step."""
    assert (
        term_of("Inspect each device line for a device that begins with epson: or canon: .") == ""
    )
    assert (
        term_of("Background: older versions of Gutenprint shipped these backends.") == "Background"
    )
    assert term_of("add: Add a remote named <name> for the repository.") == "add"


def test_another_page_takes_the_opening_only_by_a_clearly_better_heading(monkeypatch) -> None:
    """kildclient's "How do I load a plugin?": the retriever's first page (the Plugins
    chapter, "press the Load button") lost the opening to an appendix section whose heading
    repeats more of the question ("Conditional Loading of Plugins")."""
    import m2io.generators.sections as sections_mod

    plugins = (
        "Plugins\n\nPlugins add features to the client. To load a plugin, press the Load "
        "button in the Plugins window and select the file. The plugin then appears in the list."
    )
    appendix = (
        "Conditional Loading of Plugins\n\nA plugin can test a condition in a BEGIN block and "
        "call die with a message when the condition is not met, so that it is not loaded."
    )
    retrieval = _retrieval(("plugins", "Plugins", plugins), ("appendix", "Appendix", appendix))
    gen = ExtractiveGenerator(embedder=None)

    def opening() -> str:
        return gen.generate("How do I load a plugin?", retrieval).sentences[0].text

    assert "Load button" in opening() or opening().startswith("Plugins add")
    monkeypatch.setattr(sections_mod, "PAGE_MARGIN", 0.0)  # as before: the heading wins
    assert "BEGIN block" in opening()
