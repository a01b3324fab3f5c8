// @roamhq/wrtc ships no types; tests and benchmarks use it only through simple-peer's `wrtc` option.
declare module '@roamhq/wrtc' {
  const wrtc: { RTCPeerConnection: unknown; RTCSessionDescription: unknown; RTCIceCandidate: unknown; [k: string]: unknown };
  export default wrtc;
}
