// Sensors: turn kernel observations (strace today, eBPF later) into SensorEvents. Errors a
// sensor raises when it cannot watch at all.

export class SensorUnavailableError extends Error {
  override readonly name = 'SensorUnavailableError';
  /** What the user can do about it, e.g. the install command. */
  readonly hint: string;

  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.hint = hint;
  }
}
