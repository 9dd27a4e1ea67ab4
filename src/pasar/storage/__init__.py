"""Where files live: uploaded images, HLS segments and playlists, recordings.

Infrastructure with no domain knowledge (it imports no domain package): the
:class:`Storage` interface, the local-disk backend (:mod:`pasar.storage.local`),
the S3-compatible one (:mod:`pasar.storage.s3`) and its SigV4 signer
(:mod:`pasar.storage.sigv4`).
"""

from pasar.storage.base import Storage

__all__ = ["Storage"]
