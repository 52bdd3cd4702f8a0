// `tripline demo`: runs a small embedded script under the real sensor so a new user sees a
// real detection on their own machine: one cat per setting, as hardening audits and recon
// scripts do, across several areas of /proc/sys/net.

import { BUILTIN_RECIPES } from '../recipes/builtin-recipes.ts';
import { parseCommandLine } from './command-line.ts';
import type { CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { DEMO_HELP } from './help-text.ts';
import { traceCommand } from './run-command.ts';

export const DEMO_SCRIPT = `echo "demo: reading a few kernel network settings, one cat per setting"
for key in core/somaxconn ipv4/ip_forward ipv4/tcp_syncookies ipv4/conf/all/rp_filter ipv6/conf/all/disable_ipv6 unix/max_dgram_qlen; do
  if value=$(cat "/proc/sys/net/$key" 2>/dev/null); then echo "  $key = $value"; fi
done`;

export async function demoCommand(args: readonly string[], io: CommandIo): Promise<number> {
  if (parseCommandLine({ command: 'demo', options: {}, operands: 'none' }, args).help) {
    io.stdout.write(`${DEMO_HELP}\n`);
    return EXIT.ok;
  }
  return traceCommand(
    // The built-in recipes only: the demo shows the default behaviour whatever tripline.yaml says.
    {
      command: ['sh', '-c', DEMO_SCRIPT, 'tripline-demo'], outputs: undefined, failOn: 'never', quiet: false, sensor: 'auto',
      environment: { value: undefined, source: 'default' }, recipes: BUILTIN_RECIPES,
    },
    io,
  );
}
