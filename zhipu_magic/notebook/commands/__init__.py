"""The ``%glm`` subcommands: each module registers its own with :func:`.registry.command`."""

from . import catalog, chats, fix, ledger, settings, tasks
from .registry import COMMANDS, dispatch, listing

__all__ = ["COMMANDS", "catalog", "chats", "dispatch", "fix", "ledger", "listing", "settings", "tasks"]
