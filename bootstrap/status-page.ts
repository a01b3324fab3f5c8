/**
 * The status page at `/`: the node, its links (the routing table), live
 * counters and a one-minute chart of traffic. It polls /status.json each
 * second; every value is written with textContent (nothing remote becomes HTML).
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>relaymesh node</title>
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#0f1419;color:#d6dde4}
 header{padding:14px 20px;background:#17202a;border-bottom:1px solid #26323f}
 h1{font-size:18px;margin:0 0 4px} h2{font-size:14px;margin:0 0 8px;color:#8fa3b8;text-transform:uppercase;letter-spacing:.05em}
 code{font:12px ui-monospace,monospace;color:#9ad1ff;word-break:break-all}
 main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;padding:14px 20px}
 section{background:#17202a;border:1px solid #26323f;border-radius:6px;padding:12px}
 .wide{grid-column:1/-1}
 .counters{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:8px}
 .counter{background:#0f1419;border-radius:4px;padding:8px}
 .counter b{display:block;font-size:22px;color:#fff} .counter span{color:#8fa3b8;font-size:12px}
 table{width:100%;border-collapse:collapse;font-size:12px} th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #26323f}
 th{color:#8fa3b8;font-weight:normal} canvas{width:100%;height:140px;background:#0f1419;border-radius:4px}
 .legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
 #state{float:right;font-size:12px} .ok{color:#6fcf97} .bad{color:#eb5757}
</style></head>
<body>
<header><span id="state">connecting…</span><h1>relaymesh node</h1>
 <div>id <code id="node-id">…</code></div><div>url <code id="node-url">…</code> · up <span id="uptime">0</span> s · v<span id="version"></span></div></header>
<main>
<section class="wide"><h2>Counters</h2><div class="counters">
 <div class="counter"><b id="links-count">0</b><span>links</span></div>
 <div class="counter"><b id="table-size">0</b><span>routing table</span></div>
 <div class="counter"><b id="sessions">0</b><span>sessions</span></div>
 <div class="counter"><b id="relayed">0</b><span>messages relayed</span></div>
 <div class="counter"><b id="bytes-relayed">0</b><span>bytes relayed</span></div>
 <div class="counter"><b id="delivered">0</b><span>delivered here</span></div>
 <div class="counter"><b id="sent">0</b><span>sent from here</span></div>
 <div class="counter"><b id="dropped-total">0</b><span>dropped</span></div>
 <div class="counter"><b id="signaling-clients">0</b><span>signaling clients</span></div>
 <div class="counter"><b id="signaling-rooms">0</b><span>rooms</span></div>
</div></section>
<section class="wide"><h2>Traffic, last minute (per second)</h2><canvas id="chart" width="900" height="140"></canvas>
 <div class="legend"><i style="background:#56ccf2"></i>relayed<i style="background:#6fcf97"></i>delivered<i style="background:#f2c94c"></i>sent</div></section>
<section class="wide"><h2>Links / routing table</h2><table><thead><tr><th>node</th><th>transport</th><th>address</th><th>dir</th><th>age</th><th>frames in/out</th><th>relayed</th></tr></thead><tbody id="links"></tbody></table></section>
<section><h2>Drops by reason</h2><table><tbody id="drops"></tbody></table></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const SERIES = [['relayed', '#56ccf2'], ['delivered', '#6fcf97'], ['sent', '#f2c94c']];
const history = Array.from({ length: 60 }, () => SERIES.map(() => 0)); let last = null;
function cell(tr, text) { const td = document.createElement('td'); td.textContent = String(text); tr.appendChild(td); }
function fmt(n) { return n >= 1e9 ? (n / 1e9).toFixed(1) + 'G' : n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : String(n); }
function render(s) {
  $('node-id').textContent = s.id; $('node-url').textContent = s.url || '(none)'; $('uptime').textContent = s.uptimeSeconds; $('version').textContent = s.version;
  $('links-count').textContent = s.links.length; $('table-size').textContent = s.routingTableSize; $('sessions').textContent = s.sessions;
  $('relayed').textContent = fmt(s.relayed); $('bytes-relayed').textContent = fmt(s.bytesRelayed); $('delivered').textContent = fmt(s.delivered); $('sent').textContent = fmt(s.sent);
  $('dropped-total').textContent = fmt(Object.values(s.dropped).reduce((a, b) => a + b, 0));
  $('signaling-clients').textContent = s.signaling.clients; $('signaling-rooms').textContent = s.signaling.rooms;
  const tbody = $('links'); tbody.replaceChildren();
  for (const l of s.links) {
    const tr = document.createElement('tr'); tr.className = 'link'; tr.dataset.kind = l.kind;
    cell(tr, l.id.slice(0, 16) + '…'); cell(tr, l.kind); cell(tr, l.url || l.remoteAddress); cell(tr, l.initiator ? 'out' : 'in');
    cell(tr, Math.round((Date.now() - l.openedAt) / 1000) + ' s');
    cell(tr, fmt(l.stats.framesIn ?? 0) + ' / ' + fmt(l.stats.framesOut ?? 0)); cell(tr, fmt(l.stats.relayed ?? 0));
    tbody.appendChild(tr);
  }
  const drops = $('drops'); drops.replaceChildren();
  for (const [reason, n] of Object.entries(s.dropped)) { const tr = document.createElement('tr'); cell(tr, reason); cell(tr, n); drops.appendChild(tr); }
  if (!drops.children.length) { const tr = document.createElement('tr'); cell(tr, 'none'); drops.appendChild(tr); }
  if (last) history.push(SERIES.map(([k]) => Math.max(0, s[k] - last[k])));
  last = s; if (history.length > 60) history.shift();
  draw();
}
function draw() {
  const c = $('chart'); const g = c.getContext('2d'); const w = c.width, h = c.height;
  g.clearRect(0, 0, w, h);
  const max = Math.max(1, ...history.flat());
  g.fillStyle = '#8fa3b8'; g.font = '11px sans-serif'; g.fillText(fmt(max) + '/s', 4, 12);
  SERIES.forEach(([, color], i) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    history.forEach((row, x) => { const px = w - (history.length - 1 - x) * (w / 59); const py = h - 4 - (row[i] / max) * (h - 20); x ? g.lineTo(px, py) : g.moveTo(px, py); });
    g.stroke();
  });
}
async function poll() {
  try {
    const r = await fetch('status.json', { cache: 'no-store' });
    render(await r.json());
    $('state').textContent = 'live'; $('state').className = 'ok';
  } catch { $('state').textContent = 'unreachable'; $('state').className = 'bad'; }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
`;
