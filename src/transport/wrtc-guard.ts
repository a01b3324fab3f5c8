/**
 * A guard around a Node WebRTC implementation (@roamhq/wrtc) before simple-peer
 * gets it: the peer connections it makes answer `localDescription` and
 * `remoteDescription` with a copy of the last description set through them,
 * and never call the native getters.
 *
 * Why: @roamhq/wrtc's getters serialise the native session description on the
 * JS thread (RTCPeerConnection::GetLocalDescription -> JsepSessionDescription::
 * ToString -> SdpSerialize) while WebRTC's signaling thread owns that object and
 * changes it (local candidates are added to it as ICE gathers, descriptions are
 * replaced as negotiation goes on). Reading it in that window now and then
 * crashes the process with SIGSEGV inside SdpSerialize: about 1 run in 20 of
 * test/connect/webrtc-mesh.serial (session 10), the same backtrace as
 * simple-peer issue 812 and iron-fish issue 145. simple-peer reads
 * `localDescription` right after setLocalDescription resolves (to send the offer
 * or answer) and `remoteDescription` for every remote candidate; with trickle ICE
 * the copy carries everything those reads need (type and SDP; candidates travel
 * as their own signals).
 *
 * Browsers' implementations do not have this race and are not wrapped (simple-peer
 * uses the global RTCPeerConnection when no implementation is given).
 */

export interface WrtcLike {
  RTCPeerConnection: new (config?: unknown) => object;
  RTCSessionDescription?: unknown;
  RTCIceCandidate?: unknown;
  [k: string]: unknown;
}

interface Description { type: string; sdp: string }

const guarded = new WeakMap<object, WrtcLike>();

/** `wrtc` with its RTCPeerConnection guarded (the same object back for the same `wrtc`). */
export function guardWrtc(wrtc: WrtcLike): WrtcLike {
  let g = guarded.get(wrtc);
  if (!g) {
    const Base = wrtc.RTCPeerConnection;
    // A function used with `new` that returns an object gives that object: simple-peer does `new RTCPeerConnection(config)`.
    const RTCPeerConnection = function GuardedPeerConnection(config?: unknown) { return guardPeerConnection(new Base(config)); };
    g = { ...wrtc, RTCPeerConnection: RTCPeerConnection as unknown as WrtcLike['RTCPeerConnection'] };
    guarded.set(wrtc, g);
    guarded.set(g, g);
  }
  return g;
}

function copy(d: unknown): Description | null {
  const s = d as Partial<Description> | null | undefined;
  return s && typeof s.type === 'string' && typeof s.sdp === 'string' ? { type: s.type, sdp: s.sdp } : null;
}

/**
 * A view of `pc` whose description getters answer from copies. (@roamhq/wrtc defines them on each instance,
 * non-configurable, so a subclass cannot override them: a Proxy can, since they are accessors.)
 */
function guardPeerConnection(pc: object): object {
  let local: Description | null = null;
  let remote: Description | null = null;
  /** Methods bound to `pc`, by the function they wrap (an own function-valued property may change). */
  const bound = new WeakMap<object, unknown>();
  const setter = (fn: (...args: unknown[]) => Promise<unknown>, remember: (d: Description) => void) =>
    (...args: unknown[]) => fn.apply(pc, args).then((r) => {
      const d = copy(args[0]);
      if (d) remember(d);
      return r;
    });
  return new Proxy(pc, {
    get(target, key) {
      if (key === 'localDescription') return local;
      if (key === 'remoteDescription') return remote;
      const v = Reflect.get(target, key);
      if (typeof v !== 'function') return v;
      let f = bound.get(v);
      if (f === undefined) {
        if (key === 'setLocalDescription') f = setter(v as never, (d) => { local = d; });
        else if (key === 'setRemoteDescription') f = setter(v as never, (d) => { remote = d; });
        else f = (v as (...a: unknown[]) => unknown).bind(target);
        bound.set(v, f);
      }
      return f;
    },
    // Event handlers (onicecandidate, ...) go on the peer connection itself, where its events look for them.
    set(target, key, value) { return Reflect.set(target, key, value); },
  });
}
