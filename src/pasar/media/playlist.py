"""HLS playlists (RFC 8216bis): the live Low-Latency playlist with parts,
preload hint and blocking reload; the same without parts for older players;
the VOD playlist of the recording; and the multivariant playlist.

Pure functions over a small model, so every rule is tested without video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class Part:
    index: int
    duration: float
    independent: bool
    data: bytes

    def uri(self, msn: int) -> str:
        return f"s{msn}.{self.index}.m4s"


@dataclass
class Segment:
    msn: int
    run: int
    started_at: datetime  # wall clock of the first sample (EXT-X-PROGRAM-DATE-TIME)
    parts: list[Part] = field(default_factory=list)
    complete: bool = False
    gap_before: bool = False  # first segment of a run after another run

    @property
    def duration(self) -> float:
        return sum(p.duration for p in self.parts)

    @property
    def uri(self) -> str:
        return f"s{self.msn}.m4s"


def init_uri(run: int) -> str:
    return f"init{run}.mp4"


@dataclass(frozen=True)
class LiveOptions:
    target_duration: int  # whole seconds, never changes during a show
    part_target: float
    window: int  # complete segments kept in the live playlist
    low_latency: bool = True


@dataclass(frozen=True)
class RenditionReport:
    """Where another rendition of the show is (RFC 8216bis §4.4.5.4), so a
    player switching to it can ask for its next part straight away."""

    uri: str  # relative to the playlist that carries the report
    last_msn: int
    last_part: int


def _pdt(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fmt(seconds: float) -> str:
    return f"{seconds:.5f}".rstrip("0").rstrip(".") or "0"


def render_live(
    segments: list[Segment], options: LiveOptions, reports: Sequence[RenditionReport] = ()
) -> str:
    """The live media playlist over ``segments`` (complete ones plus the one
    being written last). Old segments beyond the window are left out and
    counted in the media and discontinuity sequences. ``reports``: the other
    renditions (Low-Latency only)."""
    complete = [s for s in segments if s.complete]
    current = segments[-1] if segments and not segments[-1].complete else None
    shown = complete[-options.window :]
    if current is not None and options.low_latency:
        shown = [*shown, current]
    first = shown[0] if shown else current
    media_sequence = first.msn if first else 0
    discontinuity_sequence = sum(
        1 for s in segments if s.gap_before and first is not None and s.msn <= first.msn
    )
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{9 if options.low_latency else 7}",
        f"#EXT-X-TARGETDURATION:{options.target_duration}",
    ]
    if options.low_latency:
        hold_back = 3 * options.part_target
        lines += [
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
            f"PART-HOLD-BACK={_fmt(hold_back)},HOLD-BACK={_fmt(3 * options.target_duration)}",
            f"#EXT-X-PART-INF:PART-TARGET={_fmt(options.part_target)}",
        ]
    lines += [
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
    ]
    run: int | None = None
    # Parts are listed for the last few segments only (spec: within 3 target
    # durations of the live edge); older segments appear whole.
    part_horizon = len(shown) - 3
    for i, seg in enumerate(shown):
        if run is not None and seg.run != run:
            lines.append("#EXT-X-DISCONTINUITY")
        if seg.run != run:
            lines.append(f'#EXT-X-MAP:URI="{init_uri(seg.run)}"')
            run = seg.run
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(seg.started_at)}")
        if options.low_latency and i >= part_horizon:
            for part in seg.parts:
                attrs = f'DURATION={_fmt(part.duration)},URI="{part.uri(seg.msn)}"'
                if part.independent:
                    attrs += ",INDEPENDENT=YES"
                lines.append(f"#EXT-X-PART:{attrs}")
        if seg.complete:
            lines += [f"#EXTINF:{_fmt(seg.duration)},", seg.uri]
    if options.low_latency and segments:
        last = segments[-1]
        nxt = (last.msn + 1, 0) if last.complete else (last.msn, len(last.parts))
        hint = f"s{nxt[0]}.{nxt[1]}.m4s"
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    if options.low_latency:
        for r in reports:
            last_part = f",LAST-PART={r.last_part}" if r.last_part >= 0 else ""
            lines.append(f'#EXT-X-RENDITION-REPORT:URI="{r.uri}",LAST-MSN={r.last_msn}{last_part}')
    return "\n".join(lines) + "\n"


def render_vod(segments: list[Segment]) -> str:
    """The recording: every complete segment, from the first, with the end tag."""
    complete = [s for s in segments if s.complete and s.parts]
    target = max((math.ceil(s.duration - 0.001) for s in complete), default=1)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f"#EXT-X-MEDIA-SEQUENCE:{complete[0].msn if complete else 0}",
    ]
    run: int | None = None
    for seg in complete:
        if run is not None and seg.run != run:
            lines.append("#EXT-X-DISCONTINUITY")
        if seg.run != run:
            lines.append(f'#EXT-X-MAP:URI="{init_uri(seg.run)}"')
            run = seg.run
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{_pdt(seg.started_at)}",
            f"#EXTINF:{_fmt(seg.duration)},",
            seg.uri,
        ]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Variant:
    uri: str
    bandwidth: int
    codecs: str
    resolution: tuple[int, int] | None


def render_multivariant(variants: list[Variant]) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for v in variants:
        attrs = f'BANDWIDTH={v.bandwidth},CODECS="{v.codecs}"'
        if v.resolution:
            attrs += f",RESOLUTION={v.resolution[0]}x{v.resolution[1]}"
        lines += [f"#EXT-X-STREAM-INF:{attrs}", v.uri]
    return "\n".join(lines) + "\n"
