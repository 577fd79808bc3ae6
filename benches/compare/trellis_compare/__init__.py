"""The side-by-side comparison harness behind `benches/compare/run`."""
