"""The approval Lambda's deployment package: ``handler.py`` is uploaded as is (this file is not)."""
