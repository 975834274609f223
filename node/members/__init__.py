"""Members: people with an account on this node (accounts, roles, sessions, registration); docs/members.md."""
