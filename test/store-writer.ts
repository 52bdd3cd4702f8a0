// Test helper, run as a child process: writes detections into a store through StoreOutput and
// prints "recorded ID SEQ" once each output call has returned, so a test can kill it (-9) at
// any moment and then check that every detection it was told about is in the store.
// Usage: node --import tsx test/store-writer.ts STORE PREFIX COUNT (COUNT 0: until killed);
// it prints "ready" once the store is open and starts when its stdin gives a line (or ends).

import type { Detection } from '../src/model/detection.ts';
import { openDetectionStore } from '../src/store/sqlite-detection-store.ts';
import { StoreOutput } from '../src/store/store-output.ts';
import { replayFixture } from './replay-strace-fixture.ts';

const [path, prefix, countText] = process.argv.slice(2);
if (path === undefined || prefix === undefined || countText === undefined) throw new Error('usage: store-writer.ts STORE PREFIX COUNT');
const count = Number(countText);
const base = replayFixture('sysctl-a.strace').closed[0] as Detection;
const store = openDetectionStore({ path, create: true });
const output = new StoreOutput(store);
process.stdout.write('ready\n');
await new Promise<void>((resolve) => {
  process.stdin.once('data', () => { resolve(); });
  process.stdin.once('end', () => { resolve(); });
});
process.stdin.destroy();
for (let i = 1; count === 0 || i <= count; i++) {
  const detection = { ...base, id: `${prefix}-${String(i)}`, time: new Date(Date.parse(base.time) + i).toISOString(), revision: 1, state: 'open' as const };
  output.opened(detection);
  const final = { ...detection, revision: 2, state: 'closed' as const };
  output.closed(final);
  // Written synchronously: the line leaves only after both revisions were committed.
  process.stdout.write(`recorded ${detection.id} ${String(store.lastSeq())}\n`);
}
output.close();
