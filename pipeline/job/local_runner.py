"""The local runner featurecross pins: Beam's FnApiRunner, never Prism.

Since Beam 2.68 the DirectRunner first tries to download and start the Prism
runner binary: offline that fails and falls back to the FnApiRunner, online
the job would run on Prism, a runner nothing here tests. This runner does
what the DirectRunner's fallback does, and only that, so a default run makes
no network connection (docs/running.md "Runners"). `--direct_num_workers` and
`--direct_running_mode` (`in_memory`, `multi_threading`, `multi_processing`)
work as on the DirectRunner: the FnApiRunner reads them itself.
"""

from __future__ import annotations

from apache_beam.runners.runner import PipelineRunner


class LocalRunner(PipelineRunner):
    """The FnApiRunner with the pipeline options provisioned to its workers."""

    def run_pipeline(self, pipeline, options):
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle
        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
        provision_info = fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
        return fn_runner.FnApiRunner(provision_info=provision_info).run_pipeline(pipeline,
                                                                                 options)
