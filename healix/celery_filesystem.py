"""kombu's filesystem transport with an atomic put: the development broker of `make run`.

kombu writes a message by creating `<time>_<uuid>.<queue>.msg` and then writing into it; a
worker listing the folder in between moves the still-empty file away, fails to decode it
("Expecting value: line 1 column 1"), loses the message, and stops with an "Unrecoverable
error". Here the message is written under a name the reader ignores and renamed into place,
which is atomic on one filesystem: a reader sees a whole message or none.

healix/celery.py registers it under the `filesystem` scheme, so CELERY_BROKER_URL stays
`filesystem://`.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

__all__ = ["Channel", "Transport"]

# Not `<queue>.msg`: kombu's reader skips every name whose part after the first dot differs.
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs) -> None:
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.rename(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
