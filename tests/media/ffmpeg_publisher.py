"""FFmpeg's own WHIP muxer (inside PyAV's wheels) publishing a test picture
and a tone: run as a separate process, because FFmpeg's WHIP handshake holds
the GIL and would starve a server in the same process.

    python -m tests.media.ffmpeg_publisher URL KEY SECONDS [CERT KEYFILE]
"""

from __future__ import annotations

import math
import struct
import sys
import time
from fractions import Fraction

import av
from PIL import Image


def say(what: str) -> None:
    """A timestamped line on stderr: where the publisher got to, for a failure."""
    now = time.time()
    print(
        f"{time.strftime('%H:%M:%S', time.gmtime(now))}.{int(now * 1000) % 1000:03d} {what}",
        file=sys.stderr,
    )
    sys.stderr.flush()


def publish(url: str, key: str, seconds: float, cert: str = "", keyfile: str = "") -> None:
    # FFmpeg's own log straight to stderr (its C callback, not Python's logging):
    # the WHIP handshake's steps, for the test to show when it fails.
    av.logging.restore_default_callback()
    av.logging.set_libav_level(av.logging.VERBOSE)
    say(f"opening {url}")
    options = {"authorization": key}
    if cert:
        options.update(cert_file=cert, key_file=keyfile)
    out = av.open(url, "w", format="whip", options=options)
    say("opened")
    video = out.add_stream("libx264", rate=30)
    video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
    video.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "g": "60"}
    audio = out.add_stream("libopus", rate=48000)
    audio.layout = "stereo"
    tone = struct.pack(
        "<1920h",
        *[int(3000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(960) for _ in (0, 1)],
    )
    start = time.time()
    frames = samples = 0
    while time.time() - start < seconds:
        picture = av.VideoFrame.from_image(
            Image.new("RGB", (640, 360), ((frames * 5) % 255, 80, 160))
        )
        picture.pts, picture.time_base = frames, Fraction(1, 30)
        for packet in video.encode(picture):
            out.mux(packet)
        while samples < (frames + 1) * 1600:  # 48 kHz / 30 fps
            sound = av.AudioFrame(format="s16", layout="stereo", samples=960)
            sound.planes[0].update(tone)
            sound.sample_rate, sound.pts, sound.time_base = 48000, samples, Fraction(1, 48000)
            for packet in audio.encode(sound):
                out.mux(packet)
            samples += 960
        frames += 1
        if frames in (1, 30, 300):
            say(f"{frames} frames")
        time.sleep(max(0.0, start + frames / 30 - time.time()))
    say("closing")
    out.close()  # sends the WHIP DELETE
    say("closed")


if __name__ == "__main__":
    url, key, seconds, *cert = sys.argv[1:]
    publish(url, key, float(seconds), *cert)
