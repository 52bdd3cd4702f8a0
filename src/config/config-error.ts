// The error a bad configuration file or TRIPLINE_* variable raises, in a module of its own so
// the command line can recognise it without loading the configuration code.

import type { Diagnostic } from '../model/diagnostic.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /**
   * @param fromFlag the bad value came from the command line (a usage error, not a configuration one)
   */
  constructor(message: string, readonly diagnostics: readonly Diagnostic[] = [], readonly fromFlag = false) {
    super(message);
  }
}
