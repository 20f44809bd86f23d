"""Procedure step 5, Follow-up: the checklist after an incident, and what comes after
resolving (``next_steps``: the postmortem deadline where one is required, then the checklist).

``rules.py`` and ``next_steps.py`` are plain functions; ``service.py`` applies them to an
incident.
"""
