"""Members: people with an account on this node (accounts, roles, sessions, registration) and what they
do in the fediverse's eyes (``posting``); docs/members.md."""
