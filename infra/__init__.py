"""CDK infrastructure: one construct per component, wired into four stacks by ``infra.app``.

storage (KMS + buckets) · roles / code_assets / pipeline / registry (model build) ·
serving / monitoring / retrain (endpoint, Model Monitor, drift) · deploy_on_approval
(registry approval → serving stack update) · nag (compliance packs and acknowledgements).
See docs/deploy.md.
"""
