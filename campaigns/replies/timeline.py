"""Events on a campaign x target thread's timeline, recorded by other features.

The letters feature calls ``letter_wave_sent`` once the letters of a wave are queued;
the replies feature turns it into a timeline event.
"""
from __future__ import annotations


def letter_wave_sent(campaign_target_id: int, letters: int) -> None:
    """A wave of ``letters`` letters to this thread's target has been queued.

    Adds a public "letters sent" event to the thread (created if new); the caller's
    transaction commits it.
    """
    from campaigns.replies.operations import record_letter_wave

    record_letter_wave(campaign_target_id, letters)
