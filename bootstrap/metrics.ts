/**
 * What a bootstrap node reports about itself: one snapshot (the JSON behind
 * /status.json and /health) and its Prometheus text rendering (/metrics,
 * exposition format 0.0.4).
 */
import type { PeerRelay, NodeStats, LinkInfo } from '../src/peer-relay.js';

/** Counts of whatever serves signaling clients on this node (zero when none does). */
export interface SignalingStats { clients: number; rooms: number }

/** A link as the status page shows it: PeerRelay#linkInfo()'s row. */
export type LinkSnapshot = LinkInfo;

export interface NodeSnapshot extends Omit<NodeStats, 'links'> {
  id: string;
  url: string;
  version: string;
  startedAt: number;
  uptimeSeconds: number;
  routingTableSize: number;
  links: LinkSnapshot[];
  linksByKind: Record<string, number>;
  signaling: SignalingStats;
  memory: { rss: number; heapUsed: number };
}

export function snapshot(node: PeerRelay, info: { version: string; startedAt: number; signaling?: () => SignalingStats }): NodeSnapshot {
  const s = node.stats();
  const links = node.linkInfo();
  const linksByKind: Record<string, number> = {};
  for (const l of links) linksByKind[l.kind] = (linksByKind[l.kind] ?? 0) + 1;
  let signaling: SignalingStats = { clients: 0, rooms: 0 };
  try {
    if (info.signaling) signaling = info.signaling();
  } catch {
    // a status read never fails because one part could not report
  }
  const mem = process.memoryUsage();
  return {
    id: node.identity.idHex,
    url: node.url,
    version: info.version,
    startedAt: info.startedAt,
    uptimeSeconds: Math.round((Date.now() - info.startedAt) / 1000),
    routingTableSize: s.links,
    links,
    linksByKind,
    sessions: s.sessions,
    queued: s.queued,
    sent: s.sent,
    delivered: s.delivered,
    relayed: s.relayed,
    bytesRelayed: s.bytesRelayed,
    undeliverable: s.undeliverable,
    dropped: s.dropped,
    detours: s.detours,
    signaling,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed },
  };
}

function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Renders a snapshot in the Prometheus text exposition format. */
export function renderPrometheus(s: NodeSnapshot): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
      out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  metric('relaymesh_info', 'gauge', 'Node identity and version (always 1).', [[{ id: s.id, version: s.version, url: s.url }, 1]]);
  metric('relaymesh_uptime_seconds', 'gauge', 'Seconds since the node started.', [[{}, s.uptimeSeconds]]);
  const kinds = Object.keys(s.linksByKind).sort();
  metric('relaymesh_links', 'gauge', 'Open links by transport.',
    kinds.length ? kinds.map((k) => [{ transport: k }, s.linksByKind[k]]) : [[{ transport: 'websocket' }, 0]]);
  metric('relaymesh_routing_table_size', 'gauge', 'Nodes in the routing table.', [[{}, s.routingTableSize]]);
  metric('relaymesh_sessions', 'gauge', 'End-to-end sessions held.', [[{}, s.sessions]]);
  metric('relaymesh_queued_messages', 'gauge', 'Messages waiting for a session.', [[{}, s.queued]]);
  metric('relaymesh_messages_sent_total', 'counter', 'Messages this node originated.', [[{}, s.sent]]);
  metric('relaymesh_messages_delivered_total', 'counter', 'Messages delivered to this node.', [[{}, s.delivered]]);
  metric('relaymesh_messages_relayed_total', 'counter', 'Messages forwarded for other nodes.', [[{}, s.relayed]]);
  metric('relaymesh_bytes_relayed_total', 'counter', 'Bytes of frames forwarded for other nodes.', [[{}, s.bytesRelayed]]);
  metric('relaymesh_undeliverable_total', 'counter', 'Messages reported undeliverable.', [[{}, s.undeliverable]]);
  const reasons = (Object.keys(s.dropped) as (keyof typeof s.dropped)[]).sort();
  metric('relaymesh_dropped_total', 'counter', 'Inputs dropped, by reason.', reasons.map((r) => [{ reason: r }, s.dropped[r] ?? 0]));
  metric('relaymesh_detours_total', 'counter', 'Messages that went on along another path (loop: came back; backtrack: handed back from a dead end).',
    [[{ kind: 'loop' }, s.detours.loop], [{ kind: 'backtrack' }, s.detours.backtrack]]);
  metric('relaymesh_signaling_clients', 'gauge', 'Signaling clients connected.', [[{}, s.signaling.clients]]);
  metric('relaymesh_signaling_rooms', 'gauge', 'Signaling rooms open.', [[{}, s.signaling.rooms]]);
  metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [[{}, s.memory.rss]]);
  return out.join('\n') + '\n';
}
