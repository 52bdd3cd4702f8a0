// Normalizer and engine joined: sensor events in, detections out. Still pure and synchronous,
// so every sensor (live or replayed) and every test drives the same path.

import type { SensorEvent } from '../model/sensor-event.ts';
import type { Recipe } from '../model/recipe.ts';
import { Normalizer } from '../normalize/normalizer.ts';
import type { DetectionContext } from '../model/detection-context.ts';
import type { FileSystemProbe } from '../model/file-system-probe.ts';
import { Engine, watchedRoots, type EngineOptions, type EngineOutput } from './engine.ts';

export interface PipelineOptions extends EngineOptions {
  readonly recipes: readonly Recipe[];
  readonly context: DetectionContext;
  readonly initialCwd: string;
  readonly initialUid?: number;
  /** Live filesystem look-ups (live runs only; replays guess nothing). */
  readonly probe?: FileSystemProbe;
}

export class DetectionPipeline {
  readonly normalizer: Normalizer;
  readonly engine: Engine;

  constructor(options: PipelineOptions) {
    const roots = watchedRoots(options.recipes);
    this.normalizer = new Normalizer({
      initialCwd: options.initialCwd,
      roots,
      ...(options.initialUid === undefined ? {} : { initialUid: options.initialUid }),
      ...(options.probe === undefined ? {} : { probe: options.probe }),
    });
    this.engine = new Engine(options.recipes, this.normalizer.processes, options.context, options);
  }

  push(event: SensorEvent): EngineOutput[] {
    if (event.kind === 'sensor-loss') {
      this.engine.noteLoss(event);
      return [];
    }
    const normalized = this.normalizer.ingest(event);
    return normalized === undefined ? [] : this.engine.observe(normalized);
  }

  /** Swaps the recipes (SIGHUP in watch): open detections are closed and returned. */
  replaceRecipes(recipes: readonly Recipe[]): EngineOutput[] {
    this.normalizer.setRoots(watchedRoots(recipes));
    return this.engine.replaceRecipes(recipes);
  }

  flush(): EngineOutput[] {
    return this.engine.flush();
  }
}
