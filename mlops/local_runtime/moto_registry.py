"""What moto 5.2.5's model registry lacks and promotion needs: ``ModelLifeCycle``, and updates
that keep what they omit.

botocore's SageMaker model (the reference) declares ``ModelLifeCycle`` {``Stage``,
``StageStatus``, ``StageDescription``} on ``UpdateModelPackage`` and returns it from
``DescribeModelPackage`` and in ``ListModelPackages`` summaries. moto 5.2.5 drops it from the
request and never returns it, and its ``UpdateModelPackage`` clears every field the request
omits (the approval status included: a lifecycle-only update would leave a package with no
status at all). On AWS an update changes only what it names.

``install()`` patches moto's SageMaker classes in this process, once:

- ``UpdateModelPackage`` records ``ModelLifeCycle`` when the request carries one, and keeps the
  approval status, its description and the customer metadata when the request omits them
  (``CustomerMetadataProperties`` in a request are merged into the package's, as on AWS;
  ``CustomerMetadataPropertiesToRemove`` still removes);
- ``DescribeModelPackage`` and ``ListModelPackages`` return the recorded ``ModelLifeCycle``.

Requests are still checked against botocore's model by the clients of the local AWS
(``mlops.local_runtime.request_contract``), so a lifecycle AWS would refuse is refused here too.
The embedded AWS server installs it at start; tests that use moto in-process call it too.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.Lock()
_INSTALLED = {"done": False}
LIFECYCLE_FIELDS = ("Stage", "StageStatus", "StageDescription")


def install() -> None:
    """Patch moto's registry (idempotent, thread-safe)."""
    with _LOCK:
        if _INSTALLED["done"]:
            return
        from moto.sagemaker import models, responses

        _patch_update(responses.SageMakerResponse)
        _patch_response(models.ModelPackage)
        _INSTALLED["done"] = True


def _patch_update(response_class: Any) -> None:
    original = response_class.update_model_package

    def update_model_package(self: Any) -> Any:
        backend = self.sagemaker_backend
        arn = self._get_param("ModelPackageArn")
        package = backend.model_packages.get(backend.model_package_name_mapping.get(arn, arn))
        kept = _state(package) if package is not None else None
        result = original(self)  # validates the status and the arn, stamps LastModifiedTime
        if package is None or kept is None:
            return result
        if self._get_param("ModelApprovalStatus") is None:
            package.model_approval_status = kept["status"]
        if self._get_param("ApprovalDescription") is None:
            package.approval_description = kept["description"]
        requested = self._get_param("CustomerMetadataProperties")
        removed = set(self._get_param("CustomerMetadataPropertiesToRemove", []) or [])
        metadata = {**(kept["metadata"] or {}), **(requested or {})}
        package.customer_metadata_properties = {
            key: value for key, value in metadata.items() if key not in removed
        } or None
        lifecycle = self._get_param("ModelLifeCycle")
        if lifecycle is not None:
            package.model_life_cycle = {
                key: lifecycle[key] for key in LIFECYCLE_FIELDS if key in lifecycle
            }
        return result

    response_class.update_model_package = update_model_package


def _state(package: Any) -> dict[str, Any]:
    return {
        "status": package.model_approval_status,
        "description": package.approval_description,
        "metadata": dict(package.customer_metadata_properties or {}),
    }


def _patch_response(package_class: Any) -> None:
    original = package_class.gen_response_object

    def gen_response_object(self: Any) -> dict[str, Any]:
        response = dict(original(self))
        lifecycle = getattr(self, "model_life_cycle", None)
        if lifecycle:
            response["ModelLifeCycle"] = dict(lifecycle)
        return response

    package_class.gen_response_object = gen_response_object
