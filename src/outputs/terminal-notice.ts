// The one-line notice printed the moment a detection is made. Its count is the one at that
// moment: evidence keeps growing after it, and the final report gives the whole count.

import { describeContainer, describePackage, type Detection } from '../model/detection.ts';
import { shellQuote } from '../engine/guidance-renderer.ts';
import type { Palette } from './palette.ts';
import { sensorLossShort } from './sensor-loss-text.ts';
import { visible } from './terminal-text.ts';

export function formatNotice(d: Detection, palette: Palette): string {
  const p = d.subject.process;
  const command = visible(shellQuote(p.argv.length > 0 ? p.argv : [p.comm]));
  const shown = command.length > 120 ? `${command.slice(0, 117)}...` : command;
  const by = d.subject.scope === 'process-tree' ? ' (with the commands it started)' : '';
  const root = d.evidence.roots.join(', ');
  const pkg = d.subject.package === null ? '' : `${visible(describePackage(d.subject.package))}: `;
  const container = describeContainer(p.container);
  const inContainer = container === undefined ? '' : ` in ${visible(container)}`;
  const loss = sensorLossShort(d);
  const incomplete = loss === undefined ? '' : palette.red(`; evidence may be incomplete (${loss})`);
  return `${palette.bold('tripline:')} ${palette.yellow(d.recipe.id)} (${d.recipe.importance}) — ${pkg}pid ${p.pid} ${shown}${by}${inContainer} read ${d.evidence.directoryCount} directories under ${root} so far (the final report counts them all)${incomplete}`;
}

export class TerminalNotice {
  constructor(
    private readonly write: (line: string) => void,
    private readonly palette: Palette,
  ) {}

  opened(d: Detection): void {
    this.write(formatNotice(d, this.palette));
  }
}
