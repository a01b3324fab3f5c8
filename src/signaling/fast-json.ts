/**
 * JSON helpers for relayed client messages: a nesting-depth check, and
 * JSON.stringify for messages whose bulk is long base64 strings.
 * Node 20's JSON.stringify scans long strings at ~5 ns/char (100 µs for a
 * 16 KiB message's base64), while a regex that finds characters needing
 * escapes runs 5x faster; strings without them are copied verbatim. Output is
 * identical to JSON.stringify for JSON data (what JSON.parse produced); other
 * values (toJSON, deep nesting) fall back to JSON.stringify.
 *
 * A value parsed from text without a single backslash (`verbatim`) needs
 * no scan at all: JSON text without `\` cannot hold a string with a quote, a
 * backslash or a control character (raw ones are not JSON), and its strings
 * came from UTF-8, so they hold no lone surrogate either: every string of it
 * is copied verbatim.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const LONG = 256;
const MAX_DEPTH = 32;

/** `verbatim`: `value` is what JSON.parse made of UTF-8 text without a backslash, unchanged since (see above). */
export function fastStringify(value: unknown, depth = 0, verbatim = false): string | undefined {
  if (typeof value === 'string') return value.length >= LONG && (verbatim || !NEEDS_ESCAPE.test(value)) ? `"${value}"` : JSON.stringify(value);
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + (fastStringify(value[i], depth + 1, verbatim) ?? 'null');
    return `${out}]`;
  }
  // No long string and nothing nested at this level: one native call is cheaper than the walk.
  let plain = true;
  for (const key in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'string' ? v.length >= LONG : v !== null && typeof v === 'object') { plain = false; break; }
  }
  if (plain) return JSON.stringify(value);
  let out = '{';
  let first = true;
  for (const key of Object.keys(value)) {
    const v = fastStringify((value as Record<string, unknown>)[key], depth + 1, verbatim);
    if (v === undefined) continue;
    out += `${first ? '' : ','}${verbatim ? `"${key}"` : JSON.stringify(key)}:${v}`;
    first = false;
  }
  return `${out}}`;
}

/** True if `value` has objects or arrays nested deeper than `max` (walks at most `max` levels). */
export function tooDeep(value: unknown, max: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (max <= 0) return true;
  if (Array.isArray(value)) {
    for (const v of value) if (v !== null && typeof v === 'object' && tooDeep(v, max - 1)) return true;
    return false;
  }
  for (const k in value as Record<string, unknown>) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== null && typeof v === 'object' && tooDeep(v, max - 1)) return true;
  }
  return false;
}
