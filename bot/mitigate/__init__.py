"""Procedure step 3, Mitigate: the severity's playbook, filled for one incident.

``playbook.py`` holds the rule (plain functions over a small typed input),
``config.py`` the ``[mitigate]`` settings (named contract addresses), and
``service.py`` the little that reads an incident and applies the rule.
"""
