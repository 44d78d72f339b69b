/**
 * @module test/support/tcp-proxy
 * A loopback TCP proxy that a test can cut and restore, to play a database (or any server) becoming unreachable and
 * coming back on the same address: `cut()` drops every connection and stops listening (new connections are refused),
 * `hang()` keeps every connection open but forwards nothing (a partition: no answer, no error), `restore()` listens
 * again on the same port and forwards again.
 */
import type { Socket, TCPSocketListener } from "bun";

export interface TcpProxy {
  port: number;
  cut(): void;
  hang(): void;
  restore(): void;
  stop(): void;
}

/** One side of a proxied connection; the bytes it received wait in `pending` until `peer` takes them. */
interface Pipe {
  peer: Socket<Pipe> | null;
  /** Bytes not yet written to `peer` (it was not connected yet, or it pushed back; its `drain` flushes them). */
  pending: Uint8Array[];
}

function flush(pipe: Pipe): void {
  const peer = pipe.peer;
  if (!peer) return;
  while (pipe.pending.length > 0) {
    const chunk = pipe.pending[0]!;
    const written = peer.write(chunk);
    if (written < chunk.length) {
      pipe.pending[0] = chunk.subarray(Math.max(0, written));
      return;
    }
    pipe.pending.shift();
  }
}

/** Forwards 127.0.0.1:<port> to 127.0.0.1:`targetPort`. */
export function tcpProxy(targetPort: number): TcpProxy {
  const open = new Set<Socket<Pipe>>();
  let listener: TCPSocketListener<Pipe> | null = null;
  let port = 0;
  let hung = false;
  const listen = () => {
    listener = Bun.listen<Pipe>({
      hostname: "127.0.0.1", port,
      socket: {
        open(client) {
          client.data = { peer: null, pending: [] };
          open.add(client);
          if (hung) return;
          Bun.connect<Pipe>({
            hostname: "127.0.0.1", port: targetPort, data: { peer: client, pending: [] },
            socket: {
              open(upstream) { open.add(upstream); client.data.peer = upstream; flush(client.data); },
              data(upstream, chunk) { if (hung) return; upstream.data.pending.push(new Uint8Array(chunk)); flush(upstream.data); },
              drain() { flush(client.data); },
              close(upstream) { open.delete(upstream); client.end(); },
              error(upstream) { upstream.end(); },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) { if (hung) return; client.data.pending.push(new Uint8Array(chunk)); flush(client.data); },
        drain(client) { if (client.data.peer) flush(client.data.peer.data); },
        close(client) { open.delete(client); client.data.peer?.end(); },
        error(client) { client.end(); },
      },
    });
    port = listener.port;
  };
  listen();
  return {
    get port() { return port; },
    cut() {
      listener?.stop(true);
      listener = null;
      for (const socket of open) socket.terminate();
      open.clear();
    },
    hang() {
      hung = true;
    },
    restore() {
      hung = false;
      if (!listener) listen();
    },
    stop() {
      this.cut();
    },
  };
}
