"""Answers that make a segment trustworthy: why a contact is (not) in it (``explain``), what a rule
change would do before it is saved (``preview_change``), and when and why memberships changed
(``history``). Modules are imported one by one: explain and preview load what they need."""
