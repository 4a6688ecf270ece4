"""The forge adds its lines to a push's sideband exactly where a post-receive hook would."""

from __future__ import annotations

from paastech.forge.pktline import ReceivePackOutput, band_packets
from paastech.forge.push import RefChange, ref_changes


def pkt(payload: bytes) -> bytes:
    return b"%04x" % (len(payload) + 4) + payload


ADVERT = pkt(b"0" * 40 + b" capabilities^{}\x00report-status side-band-64k\n") + b"0000"


def test_sideband_flush_is_held_until_finish() -> None:
    """With a sideband, everything but the closing flush goes out at once."""
    out = ReceivePackOutput()
    report = pkt(b"\x01" + pkt(b"unpack ok\n") + pkt(b"ok refs/heads/main\n") + b"0000")
    forwarded = out.feed(ADVERT) + out.feed(report + b"0000")

    assert forwarded == ADVERT + report
    assert out.sideband
    assert out.finish() == b"0000"
    assert out.finish() == b""


def test_chunk_boundaries_do_not_matter() -> None:
    """Bytes split anywhere are reassembled into the same stream."""
    stream = ADVERT + pkt(b"\x02progress\n") + pkt(b"\x01" + pkt(b"unpack ok\n")) + b"0000"
    out = ReceivePackOutput()
    forwarded = b"".join(out.feed(stream[i : i + 1]) for i in range(len(stream)))
    assert forwarded + out.finish() == stream
    assert forwarded == stream[:-4]


def test_without_sideband_everything_passes_straight_through() -> None:
    """A client without side-band gets receive-pack's report untouched, flush included."""
    out = ReceivePackOutput()
    report = pkt(b"unpack ok\n") + pkt(b"ok refs/heads/main\n") + b"0000"
    assert out.feed(ADVERT + report) == ADVERT + report
    assert not out.sideband
    assert out.finish() == b""


def test_a_push_of_nothing_only_advertises() -> None:
    """When the client sends no commands receive-pack only advertises; nothing is held."""
    out = ReceivePackOutput()
    assert out.feed(ADVERT) == ADVERT
    assert not out.sideband
    assert out.finish() == b""


def test_band_packets_split_long_lines() -> None:
    """Progress longer than one packet is split; each packet carries the band byte."""
    data = b"x" * 2500
    encoded = band_packets(2, data)
    payload = b""
    rest = encoded
    while rest:
        size = int(rest[:4], 16)
        assert size <= 1000
        assert rest[4] == 2
        payload += rest[5:size]
        rest = rest[size:]
    assert payload == data


def test_ref_changes_lists_created_moved_and_deleted_refs_main_first() -> None:
    """Only refs whose target changed are reported, main before the others."""
    before = {"refs/heads/main": "a", "refs/heads/old": "b", "refs/tags/v1": "c"}
    after = {"refs/heads/main": "d", "refs/heads/new": "e", "refs/tags/v1": "c"}
    assert ref_changes(before, after) == [
        RefChange("refs/heads/main", "a", "d"),
        RefChange("refs/heads/new", None, "e"),
        RefChange("refs/heads/old", "b", None),
    ]
    assert ref_changes(after, after) == []
