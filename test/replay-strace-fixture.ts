// Test helper: replays a recorded strace fixture through the real parser, normalizer and
// engine, as `tripline replay` would, and returns what came out.

import { readFileSync } from 'node:fs';
import { DetectionPipeline } from '../src/engine/detection-pipeline.ts';
import type { EngineOutput } from '../src/engine/engine.ts';
import type { Detection } from '../src/model/detection.ts';
import type { DetectionContext } from '../src/model/detection-context.ts';
import type { Environment } from '../src/model/environment.ts';
import type { FileAccess } from '../src/model/file-access.ts';
import type { Recipe } from '../src/model/recipe.ts';
import { BUILTIN_RECIPES } from '../src/recipes/builtin-recipes.ts';
import { StraceEventStream } from '../src/sensors/strace/strace-event-stream.ts';

export const FIXTURE_DIR = new URL('./fixtures/strace/', import.meta.url);

/** The cwd the fixtures were recorded in. */
export const FIXTURE_CWD = '/tmp/measure';

export interface Replay {
  readonly outputs: EngineOutput[];
  readonly opened: Detection[];
  readonly closed: Detection[];
  readonly accesses: FileAccess[];
  readonly pipeline: DetectionPipeline;
  readonly stream: StraceEventStream;
}

export interface ReplayOptions {
  readonly environment?: Environment;
  /** The whole detection context; overrides `environment`. */
  readonly context?: DetectionContext;
  readonly recipes?: readonly Recipe[];
}

export function replayFixture(name: string, options: ReplayOptions = {}): Replay {
  const text = readFileSync(new URL(name, FIXTURE_DIR), 'utf8');
  const lines = text.split('\n');
  const last = lines.pop();
  const stream = new StraceEventStream();
  const pipeline = new DetectionPipeline({
    recipes: options.recipes ?? BUILTIN_RECIPES,
    sessionId: 'test',
    initialCwd: FIXTURE_CWD,
    initialUid: 0,
    context: options.context ?? {
      environment: options.environment ?? { kind: 'ci', source: 'test' },
      host: { hostname: 'test-host', kernel: '6.18.44', container: null },
      sensor: { name: 'strace', version: '6.1' },
    },
  });
  const outputs: EngineOutput[] = [];
  const accesses: FileAccess[] = [];
  const feed = (events: ReturnType<StraceEventStream['push']>): void => {
    for (const e of events) {
      const n = pipeline.normalizer.ingest(e);
      if (n === undefined) continue;
      if (n.kind === 'file-access') accesses.push(n);
      outputs.push(...pipeline.engine.observe(n));
    }
  };
  for (const line of lines) feed(stream.push(line));
  feed(stream.end(last === '' ? undefined : last));
  outputs.push(...pipeline.flush());
  return {
    outputs,
    opened: outputs.filter((o) => o.type === 'opened').map((o) => o.detection),
    closed: outputs.filter((o) => o.type === 'closed').map((o) => o.detection),
    accesses,
    pipeline,
    stream,
  };
}
