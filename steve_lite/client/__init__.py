"""A typed client of the steve-lite API (contract v1), sync and async, and the receiver's
webhook check.

    from steve_lite.client import SteveClient

    with SteveClient("http://127.0.0.1:8000", "aok_...") as steve:
        job = steve.process("document-ocr", ["page.png"])
"""

from steve_lite.client.asyncio import AsyncSteveClient
from steve_lite.client.errors import SteveError
from steve_lite.client.sync import SteveClient
from steve_lite.client.webhooks import verify_webhook

__all__ = ["AsyncSteveClient", "SteveClient", "SteveError", "verify_webhook"]
