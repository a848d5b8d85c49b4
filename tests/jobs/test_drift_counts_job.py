"""The drift counts in the job's graph (docs/running.md "Drift against the frozen analysis").

Every combine of the built pipeline (not run) must read a fused step, not a
Flatten; how the counts merge is tests/unit/test_drift_counts.py's.
"""

from __future__ import annotations

from tests.support import FLIGHTS_CONFIG


def test_every_combine_of_the_job_reads_a_fused_step_not_a_flatten(tmp_path):
    # A Flatten in front of a combine keeps the DirectRunner from combining
    # per bundle: it buffers every batch's partial counts until the end, and
    # memory grows with the input (docs/performance.md "Performance").
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from pipeline.config import load_config
    from pipeline.job.builder import build_pipeline

    config = load_config(str(FLIGHTS_CONFIG))
    pipeline = build_pipeline(config, PipelineOptions([]), output_dir=str(tmp_path),
                              temp_dir=str(tmp_path / "tmp"), quarantine=True)
    combines: list[tuple[str, str]] = []

    class FindCombines(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            ours = "/AnalyzeDataset/" not in node.full_label  # tf.Transform's own are its own
            if ours and isinstance(node.transform, (beam.CombineGlobally, beam.CombinePerKey)):
                producer = node.inputs[0].producer
                combines.append((node.full_label, type(producer.transform).__name__))

        def visit_transform(self, node):
            self.enter_composite_transform(node)

    pipeline.visit(FindCombines())
    labels = [label for label, _ in combines]
    assert any("DriftCounts" in label for label in labels), labels  # the visitor sees them
    assert [c for c in combines if c[1] == "Flatten"] == []
