"""Alert webhooks: Alertmanager, Grafana and generic alerts open incidents by themselves.

``server`` answers ``POST /alerts/alertmanager|grafana|generic`` and commits each
notification (``store``, through ``writer``) before its 202; ``worker`` runs the
steps that turn stored notifications into incidents (``apply``: groups, alerts
and notes; ``opening``: ``IncidentService.declare``; ``notes``: timeline notes,
channel messages and, in a storm, a digest in the ops-alerts channel). How an
alert group becomes an incident is ``rules`` (plain functions); ``formats`` and
``auth`` are the door; ``metrics`` backs ``GET /metrics``. Queries are in
``storage/alerts/``; text the senders wrote is made inert by ``bot/core/text.py``.

Pointing the senders at the bot (``[webhook]`` host and port):

- Alertmanager (``version: "4"`` webhooks), a bearer token from
  ``INCIDENT_BOT_WEBHOOK_BEARER_TOKENS``::

      receivers:
        - name: incident-bot
          webhook_configs:
            - url: http://BOT:8766/alerts/alertmanager
              max_alerts: 1000            # at most alerts.max_alerts
              http_config:
                authorization:
                  credentials: <token>

- Grafana contact point "Webhook", URL ``http://BOT:8766/alerts/grafana``, and
  either the Authorization header (scheme ``Bearer``, a token as above) or
  "HMAC Signature" with a secret from ``INCIDENT_BOT_WEBHOOK_HMAC_SECRETS``,
  header ``X-Grafana-Alerting-Signature`` and, for replay protection (recommended),
  timestamp header ``X-Grafana-Alerting-Timestamp``: a signed request replayed
  within ``alerts.replay_window`` is answered with the first one's id and stored
  once, and one replayed later is refused as old (``alerts.signature_header`` and
  ``alerts.timestamp_header`` if yours differ; Grafana's code falls back to
  ``X-Grafana-Alert-Signature`` when the header field is left empty).
- Anything else: PagerDuty Events v2 bodies to ``/alerts/generic`` with either
  credential (the body's ``routing_key`` is not needed and not kept).

Two tokens or two secrets may be set at once (comma-separated) while one is
rotated.
"""
