"""Email actions (letters to targets): supporters send personal letters to target contacts."""
