"""The CI/CD bootstrap stack: GitHub Actions OIDC roles, one per deployment stage."""
