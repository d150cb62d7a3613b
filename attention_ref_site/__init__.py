"""Build-time tooling for the attention-ref site."""
