# One image for Dataflow: the workers' SDK container and the Flex Template launcher.
#
#   workers:  the Beam SDK image's own entry point (/opt/apache/beam/boot), with
#             featurecross and its pinned dependencies installed: nothing to stage.
#   launcher: Google's template launcher binary, copied in below; it runs
#             FLEX_TEMPLATE_PYTHON_PY_FILE with the template's parameters.
#
# The Beam version and Python 3.11 match setup.py (tests/test_image.py checks it).
# Build and use it with `make image template dataflow` (docs/dataflow.md "Running on Dataflow").

# Only the launcher binary is taken from this image.
FROM gcr.io/dataflow-templates-base/python311-template-launcher-base:latest AS launcher

FROM apache/beam_python3.11_sdk:2.77.0

COPY --from=launcher /opt/google/dataflow/python_template_launcher \
     /opt/google/dataflow/python_template_launcher

WORKDIR /opt/featurecross
COPY setup.py ./
COPY pipeline ./pipeline
COPY configs ./configs
RUN pip install --no-cache-dir . && pip check

ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/opt/featurecross/pipeline/cli/flex_template.py \
    TF_CPP_MIN_LOG_LEVEL=3

# Not root: everything the job needs is installed above, so neither the launcher
# nor the workers install anything at start-up. (Staging extra packages with
# --setup_file or --requirements_file would need root for pip: drop this line then.)
RUN useradd --system --uid 10001 --home-dir /opt/featurecross featurecross
USER 10001

ENTRYPOINT ["/opt/apache/beam/boot"]
