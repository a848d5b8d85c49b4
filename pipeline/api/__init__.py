"""The Python API: what the command line does, as functions for notebooks and programs
(docs/python-api.md).

    from pipeline import api
    summary = api.run("configs/flights.yaml", output="out/flights", overwrite=True)
    table = api.open_output("out/flights").table()

Importing it is light: TensorFlow and Beam load on the first call that needs them.
"""

from pipeline.api.calls import Plan, init, profile, run, suggest, validate
from pipeline.api.configs import load
from pipeline.api.output import RunOutput, open_output

__all__ = ["Plan", "RunOutput", "init", "load", "open_output", "profile", "run", "suggest",
           "validate"]
