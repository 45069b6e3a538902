"""Model-build component: the SageMaker pipeline from the offline-built definition
(``definition``), its code assets, its execution role, the model registry, and their stack."""
