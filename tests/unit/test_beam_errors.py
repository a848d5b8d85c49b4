"""The Beam wrapper text the CLI unpicks (pipeline/cli/beam_errors.py), pinned on the
installed Beam: a DoFn's error must come back to `find_error` with its message intact."""

from __future__ import annotations

import apache_beam as beam
import pytest

from pipeline.cli.beam_errors import find_error
from pipeline.io.rows import InvalidInputError

MESSAGE = "data/x.parquet: row 3: column 'hour': is null or missing (no default)"


class _Fail(beam.DoFn):
    def process(self, element):
        raise InvalidInputError(MESSAGE)


def test_a_step_error_is_found_inside_beams_wrapper():
    with pytest.raises(Exception) as raised:
        with beam.Pipeline() as pipeline:
            _ = pipeline | beam.Create([1]) | "CheckRows" >> beam.ParDo(_Fail())
    # Beam re-raises the step's error with the step's name appended: that is the text
    # find_error cuts. If an upgrade changes it, this line fails first.
    assert str(raised.value) == f"{MESSAGE} [while running 'CheckRows']"
    assert find_error(raised.value, InvalidInputError) == MESSAGE


def test_a_direct_error_is_its_own_message():
    assert find_error(InvalidInputError(MESSAGE), InvalidInputError) == MESSAGE


def test_an_error_stringified_by_a_runner_is_found():
    wrapped = RuntimeError(f"Traceback ...\nInvalidInputError: {MESSAGE} [while running 'X']")
    assert find_error(wrapped, InvalidInputError) == MESSAGE


def test_another_error_is_not_found():
    assert find_error(RuntimeError("InvalidInput, but not ours"), InvalidInputError) is None
