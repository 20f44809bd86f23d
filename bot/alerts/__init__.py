"""Alert webhooks: Alertmanager, Grafana and generic alerts open incidents by themselves.

``server`` answers the webhooks and commits each notification before its 2xx;
``worker`` turns stored notifications into incidents (``IncidentService.declare``),
timeline notes and, in a storm, a digest; ``formats`` and ``auth`` are the door.
"""
