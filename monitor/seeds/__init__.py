"""Candidate watchlist terms found in the source documents (`monitor seeds suggest`).

Owns sentence splitting, word lists and the TOML draft.
Imports core, text and matching.
"""
