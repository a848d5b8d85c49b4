"""`--verify-rows`, the size of the parity sample every run takes of itself
(README "Exit codes"): it must be a count, refused before anything runs. And a
serving model that refuses the sampled rows: a parity failure (exit 3) in a run, one
line (exit 1) in `verify`, with TensorFlow's reason, never a traceback.

The parity sample itself is tests/jobs/test_parity_sample_job.py's.
"""

from __future__ import annotations

import pytest

from tests.support import FLIGHTS_CONFIG, run_cli


@pytest.mark.parametrize("value", ["-1", "many"])
def test_verify_rows_must_be_a_count(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli("run", "--config", FLIGHTS_CONFIG, "--verify-rows", value)
    assert exit_info.value.code == 2
    assert "--verify-rows" in capsys.readouterr().err


# The tail of a serving process's stderr when TensorFlow refuses a request (as it was
# before empty lists were read as missing, and as an in-graph check reads).
PARSE_FAILURE = """\
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node ParseExample/ParseExampleV2 defined at (most recent call last):
<stack traces unavailable>
Name: <unknown>, Key: i_d, Index: 0.  Number of int64 values != expected.  \
Values size: 0 but output shape: []
\t [[{{node ParseExample/ParseExampleV2}}]] [Op:__inference_signature_wrapper_serve_271]
"""
ASSERT_FAILURE = """\
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node Assert_1/Assert defined at (most recent call last):
<stack traces unavailable>
assertion failed: [column \\'i\\' is missing or empty, and the column has no default]
\t [[{{node Assert_1/Assert}}]] [Op:__inference_signature_wrapper_serve_464]
"""


def test_a_serving_failure_reads_as_tensorflows_reason():
    from pipeline.serving.verify import serving_error
    assert serving_error(PARSE_FAILURE) == (
        "Name: <unknown>, Key: i_d, Index: 0.  Number of int64 values != expected.  "
        "Values size: 0 but output shape: []")
    assert serving_error(ASSERT_FAILURE) == (
        "assertion failed: [column 'i' is missing or empty, and the column has no default]")
    assert serving_error("Killed\n") == "Killed"


class _NoProcess:
    def close(self) -> None:
        pass


def test_rows_serving_refuses_fail_the_parity_sample(monkeypatch):
    """Exit code 3, not a traceback: serving/ refusing rows the batch run accepted is a
    parity failure (README "Exit codes")."""
    from pipeline.config import load_config
    from pipeline.serving import parity_sample
    from pipeline.serving.verify import ServingFailedError

    def refuse(*_args, **_kwargs):
        raise ServingFailedError("OUT/serving failed to serve valid input rows: "
                                 "assertion failed: [column 'i' is missing or empty, ...]")

    monkeypatch.setattr(parity_sample, "verify_rows", refuse)
    sample = parity_sample.ParitySample(load_config(str(FLIGHTS_CONFIG)), rows=0)
    sample.rows, sample.process = 5, _NoProcess()
    with pytest.raises(parity_sample.ParityError) as error:
        sample.check("OUT")
    assert str(error.value).startswith(
        "parity sample failed: OUT/serving failed to serve valid input rows: assertion "
        "failed: [column 'i' is missing or empty")
    assert str(error.value).endswith("nothing was published")


def test_verify_reports_a_refusing_serving_model_in_one_line(monkeypatch, tmp_path, capsys):
    from pipeline.serving import verify
    (tmp_path / "_SUCCESS").write_text("")

    def refuse(*_args, **_kwargs):
        raise verify.ServingFailedError(f"{tmp_path}/serving failed to serve valid input "
                                        "rows: Key: i_d. Number of int64 values != expected")

    monkeypatch.setattr(verify, "verify_output", refuse)
    assert run_cli("verify", tmp_path) == 1
    assert capsys.readouterr().err == (f"featurecross: {tmp_path}/serving failed to serve "
                                       "valid input rows: Key: i_d. Number of int64 values "
                                       "!= expected\n")
