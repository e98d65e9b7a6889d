"""The command line (`monitor ...`): arguments, exit codes, each command's output.

Owns building the runtime for a command and the demo.
Imports anything below it; nothing imports cli.
"""
