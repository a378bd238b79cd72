"""Training and honest evaluation of the sniper-entry model."""
