"""Procedure step 4, Postmortem: which severities need one, by when, and where it goes;
the transcript and timeline it is drafted from; drafting, the deadline, publishing.

``rules.py`` and ``timeline_rules.py`` hold the rules as plain functions; the services
beside them apply them. :func:`build` puts the phase together for ``build_services``.
"""
