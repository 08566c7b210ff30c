"""Commands in answers read as commands: a procedure's "Build it:" followed by "make" shows the
command on a line of its own, as code, in Markdown and HTML (issue 21, item 2: a procedure comes
whole). Before, the answer read "Build it: make Test that everything is okay: make test", the
commands lost in the prose."""

from __future__ import annotations

from m2io.mergers.default import DefaultMerger
from m2io.mergers.render import to_html, to_markdown
from m2io.text import introduced_command
from m2io.types import Placement, Sentence, TextAnswer

STEPS = (
    "Create a build folder first.",
    "Build it:",
    "make",
    "And finally install it:",
    "sudo make install",
    "The binaries then sit in /usr/bin.",
)


def _merged(*texts: str):
    return DefaultMerger().merge(
        TextAnswer("q", tuple(Sentence(t) for t in texts)), Placement(), ()
    )


def test_a_command_after_its_colon_is_code_on_a_line_of_its_own() -> None:
    md = to_markdown(_merged(*STEPS))
    assert "Build it:\n`make`\nAnd finally install it:\n`sudo make install`\nThe binaries" in md
    html = to_html(_merged(*STEPS))
    assert "Build it:<br><code>make</code><br>And finally install it:<br>" in html
    assert "<code>sudo make install</code><br>The binaries" in html


def test_prose_headings_and_hostile_commands_are_not_turned_into_code_blindly() -> None:
    assert not introduced_command("Advanced settings", "Options:")  # capitalised: a heading
    assert not introduced_command("make", "Build it.")  # no colon before it
    assert not introduced_command("then press the button to start it.", "Next:")
    assert introduced_command("$ git bisect start", "The command can help you do this:")
    assert introduced_command("cmake ..", "Then just configure project:")
    # a command holding markup stays escaped inside the code span
    html = to_html(_merged("Run:", "echo <script>x</script>"))
    assert "<script>" not in html and "<code>echo &lt;script&gt;x&lt;/script&gt;</code>" in html


def test_a_clause_that_goes_on_after_a_colon_is_prose() -> None:
    """MRAMG text breaks sentences at odd places: "… called from the image menu:" then "the
    sliders are permanently visible" is the same sentence going on, not a command."""
    assert not introduced_command("the sliders are permanently visible", "the image menu:")
    assert not introduced_command("which contains commands", "the Colors menu:")
    assert introduced_command("pip install python-gammu", "You can install it using pip:")


def test_a_block_of_commands_keeps_a_line_each_and_stays_whole() -> None:
    """A code block ("mkdir build" / "cd build") was joined into one line, "mkdir build cd
    build", which reads as one command with four words; shell-prompt lines too."""
    from m2io.text import split_sentences

    text = (
        "Create a folder for the build:\n\nmkdir build\ncd build\n\n"
        "The bisect command can help you do this:\n\n$ git bisect start\n$ git bisect bad master\n"
        "Bisecting: 3537 revisions left to test after this\n\nIt costs $ 5 a month."
    )
    assert split_sentences(text) == [
        "Create a folder for the build:",
        "mkdir build",
        "cd build",
        "The bisect command can help you do this:",
        "$ git bisect start",
        "$ git bisect bad master",
        "Bisecting: 3537 revisions left to test after this",
        "It costs $ 5 a month.",
    ]
    md = to_markdown(_merged(*split_sentences(text)[:3], "Then run the tests."))
    assert "Create a folder for the build:\n`mkdir build`\n`cd build`\nThen run the tests." in md


def test_the_generator_keeps_a_command_block_whole_with_its_sentence() -> None:
    from m2io.generators.focus import Line, units
    from m2io.types import Source

    src = Source("d", "D", "d.html", "Build", "")
    texts = ("Create a folder for the build:", "mkdir build", "cd build", "Then configure.")
    got = [(u.kind, u.first, u.last) for u in units([Line(t, "d#0", 0, src) for t in texts])]
    assert got[0] == ("code", 0, 2)  # the sentence and both commands, one unit


def test_the_api_marks_commands_for_front_ends() -> None:
    """``/v1/answer`` marks a command segment, so the page draws it as code on its own line."""
    from types import SimpleNamespace

    import pytest

    pytest.importorskip("fastapi")
    from m2io.serve.answer import Links, answer_out

    links = Links("http://h", SimpleNamespace(images={}, sources={}), None)  # type: ignore[arg-type]
    segments = answer_out(_merged(*STEPS), links)["segments"]
    assert [s["text"] for s in segments if s.get("command")] == ["make", "sudo make install"]
    assert not segments[1].get("command")  # "Build it:" itself is prose
