"""How the optional embedder is composed: the OpenAI-compatible one, or none at all.

The container (``entrypoints.container``) calls this; it reads only the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from entrypoints.metered_ports import MeteredEmbedder
from entrypoints.settings import Settings
from memory_domain.embedding import Embedder


async def open_embedder(settings: Settings) -> AsyncIterator[Embedder | None]:
    """The OpenAI-compatible embedder when ``EMBEDDINGS_BASE_URL`` is set, else None (lexical only).

    There is no offline default: a hashed stand-in would rank by spelling, not meaning, and
    only blur the lexical order it was meant to improve.
    """
    if not settings.embeddings_configured:
        yield None
        return
    # Imported here, as in the container: the openai SDK is slow to import.
    from adapters.llm.openai_embeddings import OpenAIEmbedder

    embedder = OpenAIEmbedder(**settings.embeddings_options())
    try:
        yield MeteredEmbedder(embedder)
    finally:
        await embedder.aclose()
