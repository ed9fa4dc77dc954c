"""Length-prefixed frames: a 4-byte big-endian length, then that many bytes of JSON."""

from __future__ import annotations

import struct

from xps.protocol._errors import FRAME_TOO_LARGE, ProtocolError

HEADER = struct.Struct("!I")
HEADER_SIZE = HEADER.size
#: Default maximum frame sizes: requests are small; pushed violation batches can be large.
MAX_REQUEST_FRAME = 4 << 20
MAX_RESPONSE_FRAME = 64 << 20


def encode_frame(payload: bytes) -> bytes:
    """Prefixes ``payload`` with its length."""
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Incremental, sans-IO frame splitter: feed bytes, get complete frame payloads.

    Args:
        max_frame: Largest accepted payload; a larger header raises a fatal ProtocolError
            before any of the payload is buffered.
    """

    __slots__ = ("_buf", "_need", "max_frame")

    def __init__(self, max_frame: int = MAX_REQUEST_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = bytearray()
        self._need = -1  # payload length of the frame being read, -1 while reading a header

    @property
    def in_frame(self) -> bool:
        """True while part of a frame (header or payload) has arrived but not all of it."""
        return bool(self._buf) or self._need >= 0

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Adds received bytes; returns the payloads of every frame now complete.

        Raises:
            ProtocolError: A frame header announces more than ``max_frame`` bytes.
        """
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        # One copy per frame (a bytearray slice would copy twice); the view must be
        # released before the buffer is resized.
        with memoryview(buf) as view:
            while True:
                if self._need < 0:
                    if end - pos < HEADER_SIZE:
                        break
                    (size,) = HEADER.unpack_from(buf, pos)
                    if size > self.max_frame:
                        raise ProtocolError(
                            FRAME_TOO_LARGE,
                            f"frame of {size} bytes exceeds the limit of {self.max_frame}",
                            fatal=True,
                        )
                    pos += HEADER_SIZE
                    self._need = size
                if end - pos < self._need:
                    break
                frames.append(bytes(view[pos : pos + self._need]))
                pos += self._need
                self._need = -1
        if pos:
            del buf[:pos]
        return frames
