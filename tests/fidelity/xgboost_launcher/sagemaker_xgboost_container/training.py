"""The script-mode branch of sagemaker_xgboost_container.training (aws/sagemaker-xgboost-container
src/sagemaker_xgboost_container/training.py, the wheel the 3.2-0 image installs): with a user
entry point, ``train`` calls ``framework.modules.run_module`` exactly like this."""

import sys

import sagemaker_containers.beta.framework as framework


def main():
    training_environment = framework.training_env()
    framework.modules.run_module(
        training_environment.module_dir,
        training_environment.to_cmd_args(),
        training_environment.to_env_vars(),
        training_environment.module_name,
        capture_error=False,
    )
    sys.exit(0)
