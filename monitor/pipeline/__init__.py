"""The running service: the runtime, one poll cycle, alerts, surges, schedules.

Owns what happens when: the poll cycle, the scheduler, housekeeping and
the chat actions the bot calls. Imports every lower package, never bot or cli.
"""
