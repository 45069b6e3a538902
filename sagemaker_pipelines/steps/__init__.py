"""One builder per pipeline step, assembled in order by `sagemaker_pipelines.definition`.

Each ``build_<step>(ctx, …)`` returns one SDK step object and takes the earlier steps whose
properties it reads, so the data flow between steps is visible in the signatures. Importing
this package costs nothing: the SDK (~10 s) is imported inside the builders, which run only
within `build_definition`'s offline environment.
"""
