"""Looking at data before a run: `featurecross profile` and `featurecross suggest`."""
