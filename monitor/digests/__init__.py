"""The daily digest and its archive: build, render (text, HTML page), votes.

Owns grouping hits into stories and the relevance-vote keyboards.
Imports core, text, storage and delivery.
"""
