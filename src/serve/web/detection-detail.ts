// One detection in full: what fired and where, MITRE links, what it means and what to do, the
// process ancestry as a tree, a timeline of the accesses, the evidence as a table, what the
// sensor may have missed, and the revisions the store holds.

import type { Detection, EvidenceFile } from '../../model/detection.ts';
import { describeContainer, describePackage } from '../../model/detection.ts';
import type { MitreRef } from '../../model/recipe.ts';
import type { DetectionDetailResponse } from '../dashboard-api-types.ts';
import { documentationUrl } from '../documentation-link.ts';
import { mitreUrl } from '../mitre-link.ts';
import { accessTimeline } from './access-timeline.ts';
import { ancestryTree } from './ancestry-tree.ts';
import { h, link, type Child } from './dom-builder.ts';
import { commandLine, formatCount, formatTime, visible } from './display-text.ts';
import { importanceBadge, stateBadge } from './detection-list.ts';

function section(id: string, title: string, ...children: Child[]): HTMLElement {
  return h('section', { className: 'detail-section', attrs: { 'aria-labelledby': id } }, h('h3', { id }, title), ...children);
}

function facts(rows: readonly (readonly [string, Child])[]): HTMLDListElement {
  const dl = h('dl', { className: 'facts' });
  for (const [term, value] of rows) {
    if (value === null || value === undefined || value === false) continue;
    dl.append(h('dt', {}, term), h('dd', {}, value));
  }
  return dl;
}

/** The recipe's documentation: a link only to the project's own pages (documentation-link.ts), else its text. */
function documentation(value: string): HTMLElement {
  const url = documentationUrl(value);
  return h('span', {}, ' · ', url === undefined ? h('span', {}, 'documentation: ', h('code', {}, visible(value))) : link(url, {}, 'documentation'));
}

function mitre(ref: MitreRef, kind: string): HTMLElement {
  const url = mitreUrl(ref.id);
  const text = `${visible(ref.id)} ${visible(ref.name)}`;
  return h('li', {}, `${kind}: `, url === undefined ? text : link(url, {}, text));
}

/** Evidence rows shown before "show all". */
const EVIDENCE_ROWS = 40;

function evidenceRow(f: EvidenceFile): HTMLTableRowElement {
  return h('tr', {},
    h('td', { className: 'path' }, h('code', {}, visible(f.path)), f.spelledAs.length === 0 ? null : h('div', { className: 'muted' }, `also spelled ${f.spelledAs.map(visible).join(', ')}`)),
    h('td', {}, f.counted ? 'yes' : 'no'),
    h('td', {}, f.actions.map(visible).join(', ')),
    h('td', {}, f.syscalls.map(visible).join(', ')),
    h('td', { className: 'number' }, formatCount(f.count)),
    h('td', { className: 'nowrap' }, formatTime(f.first)),
    h('td', { className: 'nowrap' }, formatTime(f.last)),
    h('td', {}, visible(f.result)),
    h('td', {}, f.pids.map(String).join(', ')),
  );
}

/** The evidence table: the first rows, and a button for the rest (a sysctl -a reads hundreds). */
function evidenceTable(files: readonly EvidenceFile[]): HTMLElement {
  const body = h('tbody', {}, ...files.slice(0, EVIDENCE_ROWS).map(evidenceRow));
  const more = files.length > EVIDENCE_ROWS ? h('button', { className: 'show-all', attrs: { type: 'button' } }, `Show all ${formatCount(files.length)} files`) : null;
  more?.addEventListener('click', () => {
    body.append(...files.slice(EVIDENCE_ROWS).map(evidenceRow));
    more.remove();
  });
  return h('div', {}, h('div', { className: 'table-scroll' }, evidenceTableShell(body)), more);
}

function evidenceTableShell(body: HTMLTableSectionElement): HTMLTableElement {
  return h('table', { className: 'evidence' },
    h('caption', { className: 'visually-hidden' }, 'Evidence: every file accessed'),
    h('thead', {}, h('tr', {}, ...['Path', 'Counted', 'Actions', 'System calls', 'Accesses', 'First', 'Last', 'Result', 'Processes'].map((c) => h('th', { attrs: { scope: 'col' } }, c)))),
    body,
  );
}

function sensorFacts(d: Detection): HTMLElement {
  const s = d.sensor;
  return facts([
    ['Sensor', `${visible(s.name)}${s.version === null ? '' : ` ${visible(s.version)}`}`],
    ['Evidence', s.complete ? 'complete: nothing was lost while the subject ran' : h('strong', {}, 'may be incomplete: the sensor lost events or was down while the subject ran')],
    ['Events lost', formatCount(s.eventsLost)],
    ['Gaps', s.gaps.length === 0 ? 'none' : h('ul', {}, ...s.gaps.map((g) => h('li', {}, `${formatTime(g.start)} – ${g.end === null ? 'still open when written' : formatTime(g.end)}`)))],
  ]);
}

export function renderDetail(data: DetectionDetailResponse): HTMLElement[] {
  const d = data.detection;
  const p = d.subject.process;
  const ci = d.environment.ci;
  const container = describeContainer(p.container);
  const header = h('header', { className: 'detail-header' },
    h('h2', { id: 'detail-title', attrs: { tabindex: '-1' } }, visible(d.recipe.name)),
    h('p', { className: 'badges' }, importanceBadge(d.recipe.importance), ' ', stateBadge(data.summary.state, data.summary.revision), ' ',
      d.sensor.complete ? null : h('span', { className: 'badge incomplete' }, 'evidence may be incomplete')),
    h('p', { className: 'lead' }, visible(d.recipe.description)),
  );
  const what = section('what-title', 'What happened', facts([
    ['Detected', formatTime(d.time)],
    ['Host', visible(d.host.hostname)],
    ['Kernel', visible(d.host.kernel)],
    ['Environment', `${visible(d.environment.kind)} (${visible(d.environment.source)})`],
    ['CI', ci === null ? null : [ci.provider, ci.repository, ci.workflow, ci.job, ci.step === undefined ? undefined : `step ${ci.step.id}`].filter((x): x is string => x !== undefined).map(visible).join(' · ')],
    ['Process', `${visible(p.comm)} (pid ${String(p.pid)}${p.uid === null ? '' : `, uid ${String(p.uid)}`})`],
    ['Executable', p.exe === null ? null : h('code', {}, visible(p.exe))],
    ['Command line', p.argv.length === 0 ? null : h('code', {}, commandLine(p.argv, p.argvTruncated))],
    ['Working directory', p.cwd === null ? null : h('code', {}, visible(p.cwd))],
    ['Container', container === undefined ? (d.host.container === null ? 'none (the host)' : `tripline ran in ${visible(d.host.container.runtime)} ${visible(d.host.container.id.slice(0, 12))}`) : visible(container)],
    ['Package', d.subject.package === null ? null : visible(describePackage(d.subject.package))],
    ['Scope', d.subject.scope === 'process-tree' ? 'the process and the processes it started' : 'the process alone'],
    ['Breadth', `${formatCount(d.evidence.directoryCount)} ${d.evidence.unit} (threshold ${String(d.evidence.threshold)} within ${String(Math.round(d.evidence.windowMs / 1000))} s)${d.evidence.configurationChanged ? '; it also changed the configuration' : ''}`],
    ['Recorded', `${formatTime(data.summary.recordedAt)}${data.summary.origin === null ? '' : `, received from ${visible(data.summary.origin)}`}`],
    ['Detection id', h('code', {}, visible(d.id))],
  ]));
  const attack = section('mitre-title', 'MITRE ATT&CK', h('ul', { className: 'mitre' },
    mitre(d.recipe.tactic, 'Tactic'), mitre(d.recipe.technique, 'Technique'), ...d.recipe.related.map((r) => mitre(r, 'Related'))),
    h('p', {}, 'Recipe ', h('code', {}, visible(d.recipe.id)), ` version ${visible(d.recipe.version)}`, d.recipe.documentation === '' ? null : documentation(d.recipe.documentation)));
  const guidance = section('guidance-title', `What it means (${visible(d.guidance.environment)})`,
    h('p', {}, visible(d.guidance.implications)),
    h('h4', {}, 'Recommended actions'),
    h('ol', { className: 'actions' }, ...d.guidance.actions.map((a) => h('li', {}, visible(a)))));
  const tree = section('tree-title', 'Process ancestry', ancestryTree(d));
  const timeline = section('timeline-title', 'Timeline of the accesses', accessTimeline(d));
  const evidence = section('evidence-title', 'Evidence',
    h('p', {}, `Directories counted: `, ...d.evidence.directories.flatMap((dir, i) => [i === 0 ? '' : ', ', h('code', {}, visible(dir))])),
    evidenceTable(d.evidence.files),
    d.evidence.filesOmitted === 0 ? null : h('p', { className: 'muted' }, `${formatCount(d.evidence.filesOmitted)} more paths were accessed but not listed (the list keeps 256).`));
  const sensor = section('sensor-title', 'Sensor', sensorFacts(d));
  const revisions = section('revisions-title', 'Revisions', h('div', { className: 'table-scroll' }, h('table', {},
    h('thead', {}, h('tr', {}, ...['Revision', 'State', 'Recorded', 'Directories', 'Accesses', 'Files'].map((c) => h('th', { attrs: { scope: 'col' } }, c)))),
    h('tbody', {}, ...data.revisions.map((r) => h('tr', {},
      h('td', { className: 'number' }, String(r.revision)), h('td', {}, visible(r.state)), h('td', { className: 'nowrap' }, formatTime(r.recordedAt)),
      h('td', { className: 'number' }, formatCount(r.directoryCount)), h('td', { className: 'number' }, formatCount(r.accessCount)), h('td', { className: 'number' }, formatCount(r.fileCount))))))));
  return [header, h('div', { className: 'detail-grid' }, what, h('div', {}, attack, guidance)), tree, timeline, evidence, h('div', { className: 'detail-grid' }, sensor, revisions)];
}
