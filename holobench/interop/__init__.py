"""Holobench suites inside other evaluation harnesses.

* :mod:`holobench.interop.inspect_tasks`: ``inspect eval holobench/<suite>`` (the ``inspect``
  extra; inspect_ai finds it through the ``inspect_ai`` entry point).
* :mod:`holobench.interop.lm_eval`: the functions of a task folder written by
  ``holobench export --format lm-eval``, which ``lm_eval --include_path`` loads.

Both read instances through :func:`~holobench.interop.instances.task_instances` and score with
holobench's own scorers, so a reply scores the same wherever it was collected. Nothing outside
this package imports it, and it imports neither library at the package level.
"""
