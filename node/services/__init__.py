"""What the node does for its operator and members: set up actors, publish, seed a demo."""
