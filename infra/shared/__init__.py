"""What several components build with: SageMaker roles, ARNs, conditions, published names, and
the helpers each component uses to acknowledge cdk-nag findings on its own resources.

Imports nothing from the component folders (``storage``, ``pipeline``, ``serving``, ``deploy``).
"""
