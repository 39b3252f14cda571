"""Governing agent behaviour: versioned configs, production samples, human labels, judge calibration.

    confighash   what a config's hash covers (behaviour only, Python module sources included), opaque agents
    semver       semantic versions and the bump between two
    versioning   the rules between two versions of one config
    gitref       files as they were at a git ref
    against      `validate --against REF`: every config against its version at REF
    logs         readers of production logs (OpenAI chat JSONL, OTLP/JSON GenAI traces)
    sampling     normalisation, hash sampling, strata, redaction
    importing    production conversations to golden cases tagged needs-review
    labels       the labels file and the review CSV
    rejudge      labelled outputs re-graded by the current judge
    calibration  judge-versus-human figures (weighted kappa, Spearman, bias, length bias); pure
    verdict      the calibration file and the line the reports show
"""
