"""Batch inference on AWS: the batch pipeline, its starter (schedule and new-data trigger) and
the data-quality monitoring of the transform jobs' capture (stack ``<project>-batch``)."""
