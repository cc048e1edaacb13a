"""Supporters\x27 rights: unsubscribe, preferences, data export, erasure and retention."""
