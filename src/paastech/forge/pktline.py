"""Just enough of git's pkt-line format to add lines to a push's sideband.

A pkt-line is four hex digits giving the length (header included) and the payload;
``0000`` is a flush. When the client asked for ``side-band``/``side-band-64k``, everything
``receive-pack`` sends after the client's commands is wrapped in band packets (band 1:
data, band 2: progress shown as ``remote: ...``, band 3: fatal error) and ends with one
flush. :class:`ReceivePackOutput` forwards ``receive-pack``'s stdout untouched but holds
that final flush back, so the forge can speak on band 2 afterwards -- exactly where git
itself would put the output of a ``post-receive`` hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FLUSH = b"0000"
PROGRESS_BAND = 2
# side-band (without -64k) allows 1000-byte packets; stay below for either flavour.
_MAX_PAYLOAD = 990


def band_packets(band: int, data: bytes) -> bytes:
    """Encode ``data`` as one or more sideband packets on ``band``."""
    out = bytearray()
    for start in range(0, len(data), _MAX_PAYLOAD):
        chunk = data[start : start + _MAX_PAYLOAD]
        out += b"%04x" % (len(chunk) + 5) + bytes([band]) + chunk
    return bytes(out)


@dataclass
class ReceivePackOutput:
    """Splits ``git receive-pack`` stdout into pkt-lines, holding back the closing flush.

    Phase 1 is the ref advertisement (pkt-lines up to a flush), forwarded as is. In phase 2
    the first packet tells whether the client negotiated a sideband (its payload starts
    with band byte 1, 2 or 3; a plain report starts with ``unpack``). With a sideband the
    flush that ends phase 2 is held back until :meth:`finish`.
    """

    _buffer: bytearray = field(default_factory=bytearray)
    _advertised: bool = False
    _phase2_started: bool = False
    sideband: bool = False
    held_flush: bool = False

    def feed(self, data: bytes) -> bytes:
        """Take a chunk of stdout; return the bytes to forward now."""
        self._buffer += data
        out = bytearray()
        while len(self._buffer) >= 4:
            try:
                length = int(self._buffer[:4], 16)
            except ValueError:
                # Not pkt-line framed (should not happen): stop interpreting, pass through.
                out += self._release_held() + self._buffer
                self._buffer.clear()
                self._advertised = self._phase2_started = True
                self.sideband = False
                break
            size = 4 if length < 4 else length
            if len(self._buffer) < size:
                break
            packet = bytes(self._buffer[:size])
            del self._buffer[:size]
            out += self._route(packet, length)
        return bytes(out)

    def _route(self, packet: bytes, length: int) -> bytes:
        if not self._advertised:
            if length == 0:
                self._advertised = True
            return packet
        if not self._phase2_started and length >= 5:
            self._phase2_started = True
            self.sideband = packet[4] in (1, 2, 3)
        if self.sideband and length == 0:
            held_before = self._release_held()
            self.held_flush = True
            return held_before
        return self._release_held() + packet

    def _release_held(self) -> bytes:
        if self.held_flush:
            self.held_flush = False
            return FLUSH
        return b""

    def finish(self) -> bytes:
        """The bytes still owed to the client at the very end (the held flush, leftovers)."""
        rest = self._release_held() + bytes(self._buffer)
        self._buffer.clear()
        return rest
