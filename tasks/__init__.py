"""Prefect tasks of a monitor tick. Each module holds a plain function (tested
without Prefect) and the task that wraps it."""
