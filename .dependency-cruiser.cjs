/**
 * The layering of relaymesh (README "Architecture"), checked by `npm test`:
 * no import cycle, type imports included, and every import points down.
 *
 *   util  <-  crypto (ids, keys)  <-  wire  <-  transport  <-  link  <-  routing  <-  session  <-  node
 *   <-  applications (connect, signaling, messaging, alias, socket/)  <-  facade (src/peer-relay.ts,
 *   src/index.ts, socket/index.ts)  <-  bootstrap/, browser/
 */
const layers = [
  ['util', '^src/util/'],
  ['crypto', '^src/crypto/'],
  ['wire', '^src/wire/'],
  ['transport', '^src/transport/'],
  ['link', '^src/link/'],
  ['routing', '^src/routing/'],
  ['session', '^src/session/'],
  ['node', '^src/node/'],
  ['apps', '^(src/connect/|src/signaling/|src/messaging/|src/alias/|socket/(?!index\\.ts$))'],
  ['facade', '^(src/peer-relay\\.ts|src/index\\.ts|socket/index\\.ts)$'],
  ['top', '^(bootstrap/|browser/)'],
];
// What each layer may not import: everything above it.
const upward = layers.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} imports only from its own layer or below (README "Architecture")`,
  severity: 'error',
  from: { path },
  to: { path: layers.slice(i + 1).map(([, p]) => p) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'no import cycle, type-only imports included',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'every module is imported by something (browser stand-ins are swapped in by scripts/build-browser.mjs)',
      from: { orphan: true, path: '^(src|socket)/', pathNot: ['\\.d\\.ts$', '^src/transport/ws-impl-browser\\.ts$', '^socket/dgram-base-browser\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|test|bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
