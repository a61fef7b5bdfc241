/**
 * Peers' key look-ups keep their waits in memory: a wall clock stepped back (Date.now faked here)
 * must not stretch them. A sender whose receiver was away when first asked ignored that receiver's
 * confirmations for two hours after a two-hour step back, sending every message again meanwhile.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PeerKeys } from '../../component/trace/peer-keys.js';

test('a failed look-up is asked again after its 3 s, though the wall clock stepped back two hours', async () => {
  const keys = new PeerKeys({ request: () => Promise.reject(new Error('remote-server-not-found')) });
  assert.is(await keys.fetch('b.example'), null);
  assert.ok(keys.failure('b.example') !== undefined, 'within its failure window');
  const realNow = Date.now;
  const stepped = realNow() - 2 * 3_600_000;
  Date.now = () => stepped;
  try {
    assert.ok(keys.failureLeftMs('b.example') <= 3000, `${keys.failureLeftMs('b.example')} ms left`);
  } finally {
    Date.now = realNow;
  }
});

test.run();
