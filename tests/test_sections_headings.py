"""Headings recognised by shape (m2io.index.sections): a navigation link is no heading, and a
numbered line is a heading when it stands alone and a list item when its neighbours are numbered
too (an HTML manual numbers its sections "1. Introduction", "2. Window layout")."""

from __future__ import annotations

import pytest

from m2io.index.sections import is_heading, sections
from m2io.types import Document

PAGE = (
    "Synchronize directories compares two folders.\n\n"
    "1. Introduction\n\n"
    "The tool compares the left and right panels.\nIt lists what differs.\n\n"
    "(back to top)\n\n"
    "2. Window layout\n\n"
    "Below is an area divided into three parts.\n\n"
    "Steps\n\n"
    "1. Choose the folders\n\n"
    "2. Press Compare\n\n"
    "The differences are listed."
)


def test_numbered_headings_stand_alone_and_numbered_steps_stay_list_items():
    titles = [s.title for s in sections(Document("sync", PAGE, title="Sync"))]
    assert titles == ["Sync", "1. Introduction", "2. Window layout", "Steps"]


def test_a_navigation_link_does_not_start_a_section():
    secs = sections(Document("sync", PAGE, title="Sync"))
    intro = next(s for s in secs if s.title == "1. Introduction")
    assert "(back to top)" in PAGE[intro.start : intro.end]


@pytest.mark.parametrize(
    ("line", "numbered", "heading"),
    [
        ("(back to top)", False, False),
        ("[edit]", False, False),
        ("Export an image", False, True),
        ("2. Window layout", False, False),
        ("2. Window layout", True, True),
        ("4.12. Configuring the IDs", False, True),
        ("- a bullet", True, False),
        ("Press OK.", True, False),
    ],
)
def test_is_heading(line, numbered, heading):
    assert is_heading(line, numbered=numbered) is heading


def test_a_figure_caption_line_is_not_a_section_title() -> None:
    """kildclient's source label read "4.1. General › Figure 4.1. The General section of the
    World Editor": the figure's title line taken for a heading."""
    from m2io.index.sections import is_heading

    assert not is_heading("Figure 4.1. The General section of the World Editor")
    assert not is_heading("Table\u00a09.3.\u00a0Selling Shares Split Scheme")
    assert is_heading("Figures and tables") and is_heading("Example Stock Account")
