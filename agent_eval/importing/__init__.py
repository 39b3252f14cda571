"""Production import: conversations from production logs to golden cases tagged `needs-review`.

    logs      readers of production logs (OpenAI chat JSONL, OTLP/JSON GenAI traces)
    sampling  normalisation, hash sampling, strata, redaction
    convert   production conversations to golden cases tagged needs-review
"""
