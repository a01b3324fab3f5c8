/**
 * A WebRTC implementation for tests: @roamhq/wrtc whose peer connections use
 * host candidates on loopback only (others are ignored when the remote side
 * adds them), and which records its peer connections and data channels so a
 * test can tear one down abruptly or make it go silent.
 */
import wrtc from '@roamhq/wrtc';

const LOOPBACK_CANDIDATE = / (127\.0\.0\.1|::1) \d+ typ host/;

export interface LoopbackWrtc {
  RTCPeerConnection: unknown;
  RTCSessionDescription: unknown;
  RTCIceCandidate: unknown;
  /** Every peer connection made through this instance, open or not. */
  pcs: Set<any>;
  /** Every data channel (created or received), in order. */
  channels: any[];
}

/** Removes candidates that are not loopback (all of them when `deaf`) from an SDP. */
function filterSdp(sdp: string, deaf: boolean): string {
  return sdp.split('\r\n').filter((l) => !l.startsWith('a=candidate:') || (!deaf && LOOPBACK_CANDIDATE.test(l))).join('\r\n');
}

/** `deaf`: ignore every remote candidate, so ICE never connects (for timeout tests). */
export function loopbackWrtc(opts: { deaf?: boolean } = {}): LoopbackWrtc {
  const deaf = opts.deaf === true;
  const pcs = new Set<any>();
  const channels: any[] = [];
  const Base = (wrtc as any).RTCPeerConnection;
  class LoopbackPeerConnection extends Base {
    constructor(config: unknown) {
      super({ ...(config as object), iceServers: [] });
      pcs.add(this);
      (this as any).addEventListener('datachannel', (ev: { channel: unknown }) => channels.push(ev.channel));
    }

    createDataChannel(...args: unknown[]): unknown {
      const ch = super.createDataChannel(...args);
      channels.push(ch);
      return ch;
    }

    addIceCandidate(c: { candidate?: string } | undefined): Promise<void> {
      if (c?.candidate && (deaf || !LOOPBACK_CANDIDATE.test(c.candidate))) return Promise.resolve();
      return super.addIceCandidate(c);
    }

    setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
      return super.setRemoteDescription({ type: d.type, sdp: filterSdp(d.sdp, deaf) });
    }
  }
  return {
    RTCPeerConnection: LoopbackPeerConnection,
    RTCSessionDescription: (wrtc as any).RTCSessionDescription,
    RTCIceCandidate: (wrtc as any).RTCIceCandidate,
    pcs,
    channels,
  };
}
