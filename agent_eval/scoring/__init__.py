"""Scoring one run: its score and verdict, whether it escalated, and the model services its checks call.

Below runner and conversation (both use it), above checks, targets and calls.

    score           a run's score and verdict from its checks and rubrics
    escalation      whether a run escalated to a human, by the config's `escalation:`
    check_services  embeddings and moderation for `similar` and `moderation` checks, cached and retried
"""
