// The MITRE ATT&CK page of a tactic or technique id from a detection. Only ids of the published
// forms get a URL (TA0007, T1082, T1059.004): a detection received from another host may carry
// anything, and a link is made from nothing else.

const ATTACK = 'https://attack.mitre.org';

/** The ATT&CK URL of `id`, undefined when it is not a tactic or (sub-)technique id. */
export function mitreUrl(id: string): string | undefined {
  if (/^TA\d{4}$/.test(id)) return `${ATTACK}/tactics/${id}/`;
  const technique = /^(T\d{4})(?:\.(\d{3}))?$/.exec(id);
  if (technique?.[1] === undefined) return undefined;
  return technique[2] === undefined ? `${ATTACK}/techniques/${technique[1]}/` : `${ATTACK}/techniques/${technique[1]}/${technique[2]}/`;
}
