"""Real-time membership: a contact's dynamic segments follow the contact the moment it changes.

Modules: ``changes`` (a contact change read from a ContactsTable stream image), ``tenant_rules`` (a
tenant's dynamic segments, catalog and suppression policy, loaded once per batch), ``activity``
(the event-log window those rules need, read lazily: the only pyarrow user here), ``decide`` (pure:
which dynamic segments one contact joins — rules in dependency order, then the scheduled run's
category/suppression placement), ``stamps`` (per-contact watermark and per-membership stamps that
make stale or replayed records harmless), ``apply`` (write only the membership changes, counts and
history), ``live`` (the same answer for ``GET /contacts/{id}/segments?live=true``, nothing written).

The consistency model is documented in docs/architecture.md ("Consistency model").
"""
