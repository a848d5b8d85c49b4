"""The batch job: Beam steps, the pipeline builder, Dataflow option checks, the
manifest, and the run from claim to publish."""
