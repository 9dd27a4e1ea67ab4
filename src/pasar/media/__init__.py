"""Media: a show's live video in and out.

Ingest (``plane``: WHIP publishers, their dropouts and grace; ``rtc_adapter``,
``transcode``; ``external``: MediaMTX and nginx-rtmp hooks), packaging into
LL-HLS (``packager``, ``muxer``, ``fmp4``, ``playlist``, ``ladder``), playback
(``playback``) and the recording that becomes the replay (``recording``,
``lifecycle``). Files are kept in :mod:`pasar.storage`; a show's state changes
are :mod:`pasar.shows.lifecycle`'s.
"""
