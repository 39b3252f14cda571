"""Shared pytest fixtures.

Provider fixtures (loopback server, a clean provider environment) are named
`loopback_server` and `clean_provider_env`; add other fixtures below them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loopback import LoopbackServer

# Variables the OpenAI and Anthropic SDKs read on their own; a test must not see the developer's.
PROVIDER_ENV_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ADMIN_KEY",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "ANTHROPIC_PROFILE",
)


@pytest.fixture
def clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No provider keys or endpoints in the environment; returns monkeypatch to set some."""
    for name in PROVIDER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A fresh loopback OpenAI/Anthropic server in a background thread."""
    with LoopbackServer() as server:
        yield server


# --- CLI fixtures (lead) ---


@pytest.fixture
def workdir(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, clean_provider_env: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A temporary current directory holding a copy of the example suites and golden data."""
    from clitools import copy_examples

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    copy_examples(tmp_path)
    return tmp_path
