"""Model providers behind one Protocol (`base.Provider`).

registry   which providers exist, keys and endpoints, `create_provider`
openai     OpenAI chat completions (and OpenAI-compatible servers); imports the SDK
anthropic  Anthropic messages; imports the SDK
mock       the offline, seeded provider driven by `ModelSpec.mock`
classify   the shared HTTP-status -> RetryDecision policy
pricing    built-in price table and `cost_usd`
aliases    `is_unpinned`: does a model id name a moving alias?

Nothing is imported here, so importing the package never loads an SDK.
"""
