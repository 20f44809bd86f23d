"""Replicas: several bot processes on one PostgreSQL database, exactly one of them acting.

``lease.Replica`` holds (or waits for) the lease row of storage/lease.py; its
``token()`` is the fencing token every effect carries (the outbox and the timers
claim only while it is current); bot/runtime.py connects the gateway and starts the
workers only once the lease is held, and steps down when it cannot be renewed.
"""
