"""Model Monitor, locally, in the formats of SageMaker's managed model-monitor-analyzer.

``baseline.write_baseline`` writes statistics.json + constraints.json, ``analysis.analyze``
checks current data (a dataset or endpoint data capture) against them and writes
constraint_violations.json, ``model_quality`` joins captured predictions with ground truth,
``report.write_report`` renders the findings as HTML. Files made here and by the managed
analyzer are interchangeable, so the same baseline serves a local run and a monitoring schedule.
"""
