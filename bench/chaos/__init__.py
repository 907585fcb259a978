"""Fault campaign (issue 11): seeded, replayable fault runs over the whole flow with invariants checked.

``python -m bench.chaos --seeds 20`` runs seeds 0..19; ``--seed N`` replays one. See :mod:`bench.chaos.campaign`.
"""
