/**
 * The demo page at /demo: a chat over the mesh, using the browser bundle. The
 * page's node joins through this bootstrap node over WebSocket, joins the demo
 * room (demo-room.ts), then sends each line to every member, sealed end to
 * end; members it can link to directly (WebRTC) are marked "direct".
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>relaymesh chat</title>
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;height:100vh;background:#f6f7f9;color:#1b2430}
 aside{width:260px;border-right:1px solid #dde2e8;padding:12px;background:#fff;overflow:auto}
 main{flex:1;display:flex;flex-direction:column} #log{flex:1;overflow:auto;padding:12px}
 #log div{margin:2px 0} #log .me b{color:#2d7a46} #log .sys{color:#7a8796;font-style:italic}
 form{display:flex;gap:6px;padding:10px;border-top:1px solid #dde2e8;background:#fff}
 input{flex:1;padding:6px 8px;font:inherit} button{padding:6px 12px;font:inherit}
 code{font:11px ui-monospace,monospace;word-break:break-all} li{margin:4px 0} .tag{font-size:11px;color:#7a8796}
</style></head>
<body>
<aside><h3>relaymesh chat</h3>
 <div>you: <code id="my-id">starting…</code></div><div id="status" class="tag">connecting</div>
 <form id="join-form"><input id="name" placeholder="your name" maxlength="32" autocomplete="off"><button id="join">Join</button></form>
 <h4>members</h4><ul id="members"></ul></aside>
<main><div id="log"></div>
 <form id="chat-form"><input id="text" placeholder="message" maxlength="2000" autocomplete="off" disabled><button id="send" disabled>Send</button></form></main>
<script type="module">
import { PeerRelay, toHex } from './relaymesh.js';
const $ = (id) => document.getElementById(id);
const health = await (await fetch('health', { cache: 'no-store' })).json();
const room = health.id;
const wsUrl = new URL('./', location.href).href.replace(/^http/, 'ws');
const node = new PeerRelay({ bootstrap: [wsUrl], wrtc: true });
const members = new Map();
let myName = '';
window.relaymeshDemo = { node, members };
$('my-id').textContent = node.identity.idHex;
function line(cls, who, text) {
  const d = document.createElement('div'); d.className = cls;
  if (who) { const b = document.createElement('b'); b.textContent = who + ': '; d.appendChild(b); }
  d.appendChild(document.createTextNode(text)); $('log').appendChild(d); $('log').scrollTop = 1e9;
}
function renderMembers() {
  const direct = new Set(node.peers.map((p) => toHex(p)));
  const ul = $('members'); ul.replaceChildren();
  for (const [id, name] of members) {
    const li = document.createElement('li'); li.dataset.id = id;
    li.textContent = name + (id === node.identity.idHex ? ' (you)' : '') + ' ';
    const tag = document.createElement('span'); tag.className = 'tag'; tag.textContent = id === node.identity.idHex ? '' : direct.has(id) ? 'direct' : 'via mesh';
    li.appendChild(tag); ul.appendChild(li);
  }
}
node.on('peer', () => { $('status').textContent = 'linked (' + node.peers.length + ')'; renderMembers(); });
node.on('disconnect', () => { $('status').textContent = 'linked (' + node.peers.length + ')'; renderMembers(); });
node.on('error', (e) => line('sys', '', 'error: ' + e.message));
node.on('message', (data, from) => {
  const fromHex = toHex(from);
  if (!data || typeof data !== 'object' || typeof data.demo !== 'string') return;
  if (data.demo === 'chat' && members.has(fromHex) && typeof data.text === 'string') {
    line('', members.get(fromHex), data.text.slice(0, 2000));
  } else if (fromHex === room && data.demo === 'members' && Array.isArray(data.members)) {
    members.clear();
    for (const m of data.members) if (m && typeof m.id === 'string' && typeof m.name === 'string') members.set(m.id, m.name.slice(0, 32));
    for (const id of members.keys()) if (id !== node.identity.idHex) node.connect(id).then(renderMembers, () => {});
    renderMembers();
  } else if (fromHex === room && data.demo === 'joined' && typeof data.id === 'string' && typeof data.name === 'string') {
    members.set(data.id, data.name.slice(0, 32)); line('sys', '', data.name.slice(0, 32) + ' joined'); renderMembers();
  } else if (fromHex === room && data.demo === 'left' && typeof data.id === 'string') {
    const name = members.get(data.id); members.delete(data.id); if (name) line('sys', '', name + ' left'); renderMembers();
  }
});
$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('name').value.trim();
  if (!name) return;
  myName = name; node.send(room, { demo: 'join', name });
  $('text').disabled = false; $('send').disabled = false; $('text').focus();
});
$('chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = $('text').value;
  if (!text) return;
  for (const id of members.keys()) if (id !== node.identity.idHex) node.send(id, { demo: 'chat', name: myName, text });
  line('me', myName, text); $('text').value = '';
});
addEventListener('pagehide', () => { try { node.send(room, { demo: 'leave' }); } catch {} node.destroy(); });
</script></body></html>
`;
