// Look-ups on the live filesystem for facts a trace does not carry. Given to the normalizer by
// the live CLI; replays and tests run without one (nothing is then guessed).

export interface FileSystemProbe {
  /** The physical path (symlinks and mounts resolved), or undefined when it cannot be resolved. */
  realpath(path: string): string | undefined;
  /** Whether the path is a directory, or undefined when it cannot be told. */
  isDirectory(path: string): boolean | undefined;
  /**
   * The verified path of what a live process runs (see verifiedExecutable): null when not
   * verifiable, undefined when the process is gone.
   */
  verifiedExecutable(pid: number, spelled: string): string | null | undefined;
}
