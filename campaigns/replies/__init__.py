"""Replies: what targets answer, on one tracked thread per campaign x target."""
