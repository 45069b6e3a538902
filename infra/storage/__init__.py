"""Storage component: the project KMS key and buckets (``buckets``) and their stack (``stack``)."""
