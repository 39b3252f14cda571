"""Governing agent behaviour: versioned configs, production samples, human labels, judge calibration.

    confighash   what a config's hash covers (behaviour only) and where its Python sources are
    versioning   semantic-version rules between two versions of a config (`validate --against`)
    gitref       reading files at a git ref
    importing    production logs (OpenAI chat JSONL, OTLP/JSON GenAI traces) to golden cases
    labels       human review export/import and the labels file
    calibration  judge-versus-human agreement figures (weighted kappa, Spearman, bias)
"""
