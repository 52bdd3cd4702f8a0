// Helper of the fleet tests and bench: runs Debian's real nats-server with JetStream on
// loopback (a free port, its own store directory), waits for its "Server is ready" line, and
// can kill it (SIGKILL) and start it again on the same port and directory.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where Debian installs it (the .ci/run script installs the package). */
export const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));

/** A port nobody listens on now (the kernel's choice, released before returning). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export class NatsServer {
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(readonly port: number, readonly storeDir: string, private readonly extraArgs: readonly string[]) {}

  get url(): string {
    return `nats://127.0.0.1:${String(this.port)}`;
  }

  /** Starts a server on a free port with JetStream stored in `storeDir`. */
  static async start(storeDir: string, extraArgs: readonly string[] = []): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), storeDir, extraArgs);
    await server.restart();
    return server;
  }

  /** Starts a server on the given port (one a test found free earlier). */
  static async startOn(port: number, storeDir: string, extraArgs: readonly string[] = []): Promise<NatsServer> {
    const server = new NatsServer(port, storeDir, extraArgs);
    await server.restart();
    return server;
  }

  /** The running server's process id. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** What the server logged since it was last started. */
  output(): string {
    return this.log;
  }

  /** Starts it (again); resolves on its "Server is ready" line, rejects when it exits before. */
  async restart(timeoutMs = 30_000): Promise<void> {
    if (NATS_SERVER === undefined) throw new Error('nats-server is not installed (apt-get install nats-server)');
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) throw new Error('nats-server is running');
    this.log = '';
    const child = spawn(NATS_SERVER, ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port), ...this.extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`nats-server not ready within ${String(timeoutMs)} ms:\n${this.log}`)); }, timeoutMs);
      const read = (chunk: Buffer): void => {
        this.log += chunk.toString('utf8');
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${String(code ?? signal)}) before it was ready:\n${this.log}`));
      });
    });
  }

  /** SIGKILL, and waits for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}
