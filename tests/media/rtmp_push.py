"""A synthetic RTMP publisher: a moving bar and silence, H.264 + AAC in FLV,
in real time. Run as its own process (``python -m tests.media.rtmp_push URL
SECONDS``): PyAV holds the GIL while it waits on the network, and the server
it publishes to may be waiting on a Pasar in the test's own process.

Exits 0 when the whole stream was sent, 1 when the server refused it.
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction

import av
from PIL import Image, ImageDraw


def push(url: str, seconds: float, fps: int = 25) -> None:
    out = av.open(url, "w", format="flv", timeout=10)
    try:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        video.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(fps)}
        audio = out.add_stream("aac", rate=44100)
        audio.layout = "mono"
        start = time.monotonic()
        samples = 0
        for n in range(round(seconds * fps)):
            image = Image.new("RGB", (320, 180))
            x = (n * 4) % 300
            ImageDraw.Draw(image).rectangle([x, 0, x + 19, 179], fill=(255, 255, 255))
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = n, Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
            while samples < (n + 1) * 44100 // fps:
                chunk = av.AudioFrame(format="fltp", layout="mono", samples=1024)
                chunk.planes[0].update(bytes(4 * 1024))  # silence
                chunk.sample_rate, chunk.pts = 44100, samples
                samples += 1024
                for packet in audio.encode(chunk):
                    out.mux(packet)
            time.sleep(max(0.0, start + (n + 1) / fps - time.monotonic()))
        for stream in (video, audio):
            for packet in stream.encode():
                out.mux(packet)
    finally:
        out.close()


def main() -> int:
    url, seconds = sys.argv[1], float(sys.argv[2])
    try:
        push(url, seconds)
    except (OSError, av.error.FFmpegError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
