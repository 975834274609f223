"""The web admin area (``/admin/...``): moderation, members, followers, deliveries and site settings.

Every handler here first asks ``node.web.guards`` for the role it needs, so
``ROUTES`` is the whole list of what only moderators and admins may open (the
tests walk it, asking each as a reader and as a member).
"""
