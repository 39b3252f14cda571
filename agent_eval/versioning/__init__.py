"""Versions of a config: semantic versions, the rules between two versions, and `validate --against REF`.

    semver   semantic versions and the bump between two
    rules    the rules between two versions of one config
    gitref   files as they were at a git ref
    against  `validate --against REF`: every config against its version at REF
"""
