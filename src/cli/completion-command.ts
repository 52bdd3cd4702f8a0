// `tripline completion bash|zsh`: shell completion scripts for every command, subcommand and
// option, and the fixed values some options take (levels, environments, sensors, outputs).

import { ENVIRONMENT_KINDS } from '../model/environment.ts';
import { IMPORTANCE_LEVELS } from '../model/importance.ts';
import { parseCommandLine } from './command-line.ts';
import type { CommandIo } from './detection-session.ts';
import { EXIT } from './exit-codes.ts';
import { COMPLETION_HELP } from './help-text.ts';
import { RUN_OPTIONS } from './run-options.ts';
import { UsageError } from './usage-error.ts';

/** What each command takes: subcommands, then options. */
export const COMPLETION_WORDS: Readonly<Record<string, { readonly subcommands?: readonly string[]; readonly options: readonly string[]; readonly files?: boolean }>> = {
  run: { options: [...Object.keys(RUN_OPTIONS).map((o) => `--${o}`), '--help'] },
  watch: { options: ['--config', '--output', '--jsonl', '--jsonl-final-only', '--environment', '--quiet', '--health-interval', '--store', '--no-store', '--help'] },
  demo: { options: ['--help'] },
  recipes: { subcommands: ['list', 'show', 'validate', 'explain'], options: ['--config', '--json', '--help'], files: true },
  config: { subcommands: ['show'], options: ['--config', '--json', '--help'] },
  report: { options: ['--config', '--output', '--fail-on', '--quiet', '--json', '--help'], files: true },
  serve: { options: ['--port', '--host', '--config', '--store', '--token-file', '--from', '--consumer', '--help'] },
  detections: {
    subcommands: ['list', 'show', 'export', 'stats', 'prune'],
    options: ['--store', '--config', '--since', '--until', '--recipe', '--importance', '--host', '--environment', '--container', '--state', '--limit', '--json',
      '--revisions', '--format', '--output', '--older-than', '--max-size', '--help'],
  },
  completion: { subcommands: ['bash', 'zsh'], options: ['--help'] },
  help: { subcommands: ['run', 'watch', 'demo', 'recipes', 'config', 'report', 'detections', 'serve', 'completion'], options: [] },
};

/** The values of options that take one of a few words. */
const VALUES: Readonly<Record<string, readonly string[]>> = {
  '--fail-on': ['never', ...IMPORTANCE_LEVELS],
  '--environment': ENVIRONMENT_KINDS,
  '--sensor': ['auto', 'ptrace', 'ebpf'],
  '--output': ['sarif=', 'junit=', 'webhook=', 'github', 'jsonl=', 'nats='],
  '--importance': IMPORTANCE_LEVELS,
  '--state': ['open', 'updated', 'closed'],
  '--format': ['jsonl', 'sarif', 'junit'],
};
const FILE_OPTIONS = ['--config', '--jsonl', '--store', '--token-file'];

export function completionCommand(args: readonly string[], io: CommandIo): number {
  const o = parseCommandLine({ command: 'completion', options: {}, operands: 'any' }, args);
  if (o.help) {
    io.stdout.write(`${COMPLETION_HELP}\n`);
    return EXIT.ok;
  }
  const [shell, extra] = o.operands;
  if (extra !== undefined || (shell !== 'bash' && shell !== 'zsh')) throw new UsageError('completion: give the shell: bash or zsh (see tripline completion --help)');
  io.stdout.write(shell === 'bash' ? bashCompletion() : zshCompletion());
  return EXIT.ok;
}

const words = (list: readonly string[]): string => list.join(' ');

export function bashCompletion(): string {
  const commands = Object.keys(COMPLETION_WORDS);
  const perCommand = Object.entries(COMPLETION_WORDS).map(([name, w]) => {
    const sub = w.subcommands === undefined ? '' : `
      if [ "$COMP_CWORD" -eq 2 ] && [[ "$cur" != -* ]]; then
        COMPREPLY=($(compgen -W "${words(w.subcommands)}" -- "$cur")); return
      fi`;
    const files = w.files === true ? `
      if [[ "$cur" != -* ]]; then COMPREPLY=($(compgen -f -- "$cur")); return; fi` : '';
    return `    ${name})${sub}${files}
      COMPREPLY=($(compgen -W "${words(w.options)}" -- "$cur")); return ;;`;
  }).join('\n');
  const values = Object.entries(VALUES).map(([option, list]) => `    ${option}) COMPREPLY=($(compgen -W "${words(list)}" -- "$cur"))${option === '--output' ? '; compopt -o nospace 2>/dev/null' : ''}; return ;;`).join('\n');
  return `# bash completion for tripline (tripline completion bash)
_tripline() {
  local cur prev cmd i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${words(commands)} --help --version" -- "$cur")); return
  fi
  # After "--" (run, recipes explain) comes a command line of its own.
  for ((i = 2; i < COMP_CWORD; i++)); do
    if [ "\${COMP_WORDS[i]}" = "--" ]; then
      if [ "$i" -eq $((COMP_CWORD - 1)) ]; then COMPREPLY=($(compgen -c -- "$cur")); else COMPREPLY=($(compgen -f -- "$cur")); fi
      return
    fi
  done
  case "$prev" in
${values}
    ${FILE_OPTIONS.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --health-interval) COMPREPLY=(); return ;;
  esac
  case "$cmd" in
${perCommand}
  esac
}
complete -F _tripline tripline
`;
}

export function zshCompletion(): string {
  const values = (option: string): string => {
    const list = VALUES[option];
    if (list !== undefined) return `:value:(${words(list)})`;
    return FILE_OPTIONS.includes(option) ? ':file:_files' : option === '--health-interval' ? ':seconds:' : '';
  };
  const takesValue = (option: string): boolean => option in VALUES || FILE_OPTIONS.includes(option) || option === '--health-interval';
  const spec = (option: string): string => `'${option}${takesValue(option) ? '=' : ''}[${option.slice(2)}]${values(option)}'`;
  const cases = Object.entries(COMPLETION_WORDS).map(([name, w]) => {
    const options = w.options.map(spec).join(' ');
    const sub = w.subcommands === undefined ? '' : ` '1:subcommand:(${words(w.subcommands)})'`;
    const rest = name === 'run' ? ` '*::command:_normal'` : w.files === true ? ` '*:file:_files'` : '';
    return `    (${name}) _arguments -s ${options}${sub}${rest} ;;`;
  }).join('\n');
  return `#compdef tripline
# zsh completion for tripline (tripline completion zsh)
_tripline() {
  local curcontext="$curcontext" state line
  _arguments -C '1:command:(${words(Object.keys(COMPLETION_WORDS))})' '*::arg:->args'
  case $state in
    (args)
      case $line[1] in
${cases}
      esac ;;
  esac
}
if [ "$funcstack[1]" = "_tripline" ]; then _tripline "$@"; else compdef _tripline tripline; fi
`;
}
