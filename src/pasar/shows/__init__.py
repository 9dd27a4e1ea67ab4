"""Shows: schedule, line-up, the live state machine and stream keys."""
