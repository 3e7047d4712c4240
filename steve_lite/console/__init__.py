"""The review console: reviewer accounts, console sessions, pages, and the corrections export."""
