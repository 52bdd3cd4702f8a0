// The error for a bad command line: the message names the argument and what is wrong with it.

export class UsageError extends Error {
  override readonly name = 'UsageError';
}
