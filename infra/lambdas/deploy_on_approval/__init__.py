"""Approval → deploy: updates the serving stack when a model package is approved."""
