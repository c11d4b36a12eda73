"""Upstream: customer needs → design feeds."""
