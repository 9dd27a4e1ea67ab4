"""Engagement: who is watching a show and how they take part.

Viewer identity (guests, vouched-for shoppers, staff), chat with its moderation
(blocked terms, mutes and bans, the moderation log) and polls. Every change is
committed first and then told to viewers through ``pasar.realtime``'s
``Realtime.publish``; this package knows nothing of sockets or HTTP.
"""
