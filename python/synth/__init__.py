"""A deterministic synthetic market with known regimes, icebergs and a tunable planted signal."""
