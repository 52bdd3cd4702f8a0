// Sensor health and loss per host: the newest health sample of each host's sensor (lines per
// second, events lost, gaps), the events lost over the last day, and its detections.

import type { HostHealth } from '../dashboard-api-types.ts';
import { byId, h, replaceChildren } from './dom-builder.ts';
import { formatCount, formatTime, visible } from './display-text.ts';

export class HostTable {
  private readonly body = byId('hosts-body', HTMLTableSectionElement);
  private readonly empty = byId('hosts-empty', HTMLParagraphElement);

  render(hosts: readonly HostHealth[]): void {
    this.empty.hidden = hosts.length > 0;
    replaceChildren(this.body, ...hosts.map((host) => row(host)));
  }
}

function row(host: HostHealth): HTMLTableRowElement {
  const s = host.health;
  const status = host.status === 'ok' ? 'no loss' : host.status === 'loss' ? 'events lost' : 'no sample';
  return h('tr', {},
    h('th', { attrs: { scope: 'row' } }, visible(host.host)),
    h('td', {}, h('span', { className: `badge health-${host.status}` }, status)),
    h('td', { className: 'number' }, formatCount(host.detections)),
    h('td', {}, s === null ? '—' : `${visible(s.sensor)} (${visible(s.source)})`),
    h('td', { className: 'nowrap' }, s === null ? '—' : h('time', { attrs: { datetime: s.time } }, formatTime(s.time))),
    h('td', { className: 'number' }, s?.linesPerSecond === null || s === null ? '—' : formatCount(Math.round(s.linesPerSecond))),
    h('td', { className: 'number' }, s === null ? '—' : formatCount(s.lost)),
    h('td', { className: 'number' }, s === null ? '—' : formatCount(s.lostLastDay)),
    h('td', { className: 'number' }, s === null ? '—' : formatCount(s.gaps)),
  );
}
