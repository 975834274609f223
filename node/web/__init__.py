"""The HTTP face of the node: HTML pages, ActivityStreams documents and discovery."""
