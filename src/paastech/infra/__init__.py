"""Provisioning of the real components on one machine (dev profile, tests, CI).

Each module installs what is missing, starts its component idempotently with a readiness
wait and a timeout, keeps logs under the state dir, and returns a :class:`Running` handle
whose ``stop()`` undoes only what this process started.
"""
