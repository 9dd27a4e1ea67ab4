// A WHIP publisher (RFC 9725) for the browser: camera and microphone in, one
// SDP offer/answer exchange with Pasar's /whip endpoint.
//
// Pasar remuxes H.264 without decoding it, so H.264 is the only video codec
// offered (Chromium then encodes constrained baseline with OpenH264, or a
// hardware encoder), and Opus the only audio one. Pasar does not take trickle
// ICE: the offer waits until every candidate is gathered.

import { ApiError, errorFrom } from "../shared/api";

/** A refusal from the WHIP endpoint (or no connection to it): an ApiError that
 * the go-live panel words for a host. */
export class WhipError extends ApiError {}

export interface PublishOptions {
  /** Upper bound for the video encoder, bits per second. */
  maxBitrate: number;
  /** Give up waiting for ICE candidates after this long and send what there is. */
  iceTimeoutMs?: number;
}

const H264_PROFILE = /profile-level-id=([0-9a-f]{6})/i;

// Constrained baseline first (what the HLS playlists announce), then baseline;
// packetization-mode=1 only (mode 0 is one NAL unit per packet, which nobody
// needs at these sizes).
function h264Rank(c: RTCRtpCodec): number {
  const fmtp = c.sdpFmtpLine ?? "";
  if (!/packetization-mode=1/.test(fmtp)) return -1;
  const profile = H264_PROFILE.exec(fmtp)?.[1]?.toLowerCase() ?? "";
  if (profile.startsWith("42e0")) return 3;
  if (profile.startsWith("4200")) return 2;
  return -1;
}

/** The H.264 (and retransmission) codecs this browser can send, best first; empty without H.264. */
export function h264Codecs(): RTCRtpCodec[] {
  const codecs = RTCRtpSender.getCapabilities?.("video")?.codecs ?? [];
  const h264 = codecs
    .filter((c) => c.mimeType.toLowerCase() === "video/h264" && h264Rank(c) > 0)
    .sort((a, b) => h264Rank(b) - h264Rank(a));
  if (h264.length === 0) return [];
  return [...h264, ...codecs.filter((c) => c.mimeType.toLowerCase() === "video/rtx")];
}

function opusCodecs(): RTCRtpCodec[] {
  const codecs = RTCRtpSender.getCapabilities?.("audio")?.codecs ?? [];
  return codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus");
}

function iceGatheringComplete(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

async function whipError(res: Response): Promise<WhipError> {
  const err = await errorFrom(res);
  return new WhipError(err.status, err.code, err.message);
}

export class WhipPublisher {
  readonly pc: RTCPeerConnection;
  /** The session's URL (the answer's Location), known once publishing started. */
  location: string | null = null;
  private videoSender: RTCRtpSender | null = null;
  private audioSender: RTCRtpSender | null = null;

  constructor(
    private readonly url: string,
    private readonly key: string,
  ) {
    this.pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
  }

  private get auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.key}` };
  }

  async start(stream: MediaStream, options: PublishOptions): Promise<void> {
    const video = stream.getVideoTracks()[0];
    const audio = stream.getAudioTracks()[0];
    if (!video) throw new WhipError(0, "no_video", "there is no camera track to publish");
    const h264 = h264Codecs();
    if (h264.length === 0) {
      throw new WhipError(
        0,
        "no_h264",
        "this browser cannot send H.264 video, which Pasar needs: use Chrome, Edge or Safari, or OBS",
      );
    }
    try {
      const vt = this.pc.addTransceiver(video, {
        direction: "sendonly",
        streams: [stream],
        sendEncodings: [{ maxBitrate: options.maxBitrate }],
      });
      vt.setCodecPreferences(h264);
      this.videoSender = vt.sender;
      if (audio) {
        const at = this.pc.addTransceiver(audio, { direction: "sendonly", streams: [stream] });
        const opus = opusCodecs();
        if (opus.length) at.setCodecPreferences(opus);
        this.audioSender = at.sender;
      }
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await iceGatheringComplete(this.pc, options.iceTimeoutMs ?? 5000);
      let res: Response;
      try {
        res = await fetch(this.url, {
          method: "POST",
          headers: { ...this.auth, "Content-Type": "application/sdp" },
          body: this.pc.localDescription!.sdp,
        });
      } catch {
        throw new WhipError(0, "network", "cannot reach the ingest server; check the connection");
      }
      if (res.status !== 201) throw await whipError(res);
      const where = res.headers.get("Location");
      if (!where) throw new WhipError(res.status, "no_location", "the server sent no session URL");
      this.location = new URL(where, this.url).toString();
      await this.pc.setRemoteDescription({ type: "answer", sdp: await res.text() });
      await this.tune(options.maxBitrate);
    } catch (e) {
      this.pc.close();
      throw e;
    }
  }

  // Cap the bitrate, and under pressure drop frames rather than resolution:
  // a product close-up must stay sharp.
  private async tune(maxBitrate: number): Promise<void> {
    const sender = this.videoSender;
    if (!sender) return;
    const params = sender.getParameters() as RTCRtpSendParameters & { degradationPreference?: string };
    if (!params.encodings?.length) return;
    params.encodings[0].maxBitrate = maxBitrate;
    try {
      await sender.setParameters({ ...params, degradationPreference: "maintain-resolution" } as RTCRtpSendParameters);
    } catch {
      await sender.setParameters(params).catch(() => undefined);
    }
  }

  /** Swap the camera or microphone while live (no renegotiation). */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    const sender = track.kind === "video" ? this.videoSender : this.audioSender;
    await sender?.replaceTrack(track);
  }

  /** What this browser is sending: for the studio's health panel. */
  async outboundVideo(): Promise<RTCOutboundRtpStreamStats & Record<string, unknown> | null> {
    if (!this.videoSender) return null;
    const report = await this.videoSender.getStats();
    for (const stat of report.values()) {
      if (stat.type === "outbound-rtp" && stat.kind === "video") return stat;
    }
    return null;
  }

  /** End the session with the server (DELETE on the session URL), then close. */
  async stop(): Promise<void> {
    try {
      if (this.location) {
        let res: Response;
        try {
          res = await fetch(this.location, { method: "DELETE", headers: this.auth });
        } catch {
          throw new WhipError(0, "network", "cannot reach the ingest server to end the session");
        }
        if (!res.ok) throw await whipError(res);
      }
    } finally {
      this.pc.close();
    }
  }

  close(): void {
    this.pc.close();
  }
}
