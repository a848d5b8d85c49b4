"""The serving SavedModel and the proofs that it reproduces the batch output
(`featurecross verify` and the parity sample every run takes)."""
