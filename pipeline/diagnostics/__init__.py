"""What a run measures about itself: fingerprints, collisions, `num_bins: auto`,
drift counts and the baseline, vocabulary coverage, stats, and the HTML report."""
