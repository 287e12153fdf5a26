"""Prefect flows: thin orchestration over the tasks."""
