"""Serving component: the endpoint (``endpoint``), Model Monitor and drift alarms (``monitor``,
``features``), optional retraining on drift (``retrain``), and their stack."""
