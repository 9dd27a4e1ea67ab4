"""Shows: schedule, line-up, the live state machine and stream keys, and (in
``lifecycle``) the one owner of a show's state change and what follows it."""
