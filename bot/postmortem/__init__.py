"""Procedure step 4, Postmortem: which severities need one, by when, and where it goes.

``rules.py`` holds the rules as plain functions; ``service.py`` reads an incident and
applies them.
"""
