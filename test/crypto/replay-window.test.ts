import test from 'tape';
import fc from 'fast-check';
import { ReplayWindow } from '../../src/crypto/replay-window.js';

test('the replay window accepts each counter once', (t) => {
  const w = new ReplayWindow(64);
  t.ok(w.check(5)); w.accept(5);
  t.notOk(w.check(5), 'a replay is refused');
  t.ok(w.check(3), 'an older unseen counter within the window is accepted'); w.accept(3);
  t.notOk(w.check(3));
  t.ok(w.check(100)); w.accept(100);
  t.notOk(w.check(30), 'a counter behind the window is refused');
  t.ok(w.check(60), 'inside the new window and unseen');
  t.end();
});

test('the replay window never accepts a counter twice (property)', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 400 }), (counters) => {
    const w = new ReplayWindow(256);
    const accepted = new Set<number>();
    for (const c of counters) {
      if (w.check(c)) {
        if (accepted.has(c)) return false;
        w.accept(c);
        accepted.add(c);
      }
    }
    return true;
  }), { numRuns: 200 });
  t.pass('no double acceptance in 200 random sequences');
  t.end();
});
