"""How a text embedder batches texts (issue 24 item 2): longest first, by the backend's length
(tokens for ONNX), never past the batch size, and never padding a text by more than the slack."""

from __future__ import annotations

from m2io.embed.base import by_length


def test_batches_run_longest_first_and_keep_every_row_once():
    lengths = [5, 40, 12, 40, 7, 30]
    batches = by_length(lengths, 64, slack=None)
    assert batches == [[1, 3, 5, 2, 4, 0]]  # ties keep their order
    assert sorted(i for b in by_length(lengths, 2) for i in b) == list(range(6))


def test_a_batch_ends_at_the_batch_size():
    assert [len(b) for b in by_length([10] * 7, 3)] == [3, 3, 1]


def test_a_batch_ends_before_a_text_it_would_pad_by_more_than_the_slack():
    # an answer's sentences: one of 60 tokens must not pad those of 8 to 60
    lengths = [60, 50, 20, 18, 8, 8, 7]
    batches = by_length(lengths, 64)
    assert batches == [[0, 1], [2, 3], [4, 5, 6]]
    for b in batches:
        widest = max(lengths[i] for i in b)
        assert all(lengths[i] * 1.25 >= widest for i in b)
    assert by_length(lengths, 64, slack=None) == [[0, 1, 2, 3, 4, 5, 6]]


def test_no_texts_no_batches():
    assert by_length([], 64) == []
