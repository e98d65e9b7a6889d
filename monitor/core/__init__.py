"""The vocabulary every stage shares: models, errors, config, time, outbox keys.

Owns the dataclasses passed between stages, the config schema, clock helpers,
stop signals and logging. Imports only the standard library and tzdata.
"""
