"""Moderation: the policy at the decide step, moderators' actions, blocklists, reports, the inbox gate."""
