/**
 * @module cli/systemd
 * `sd_notify` for `Type=notify` units: READY=1 once the daemon serves, STOPPING=1, RELOADING=1 and watchdog pings.
 * Bun has no unix datagram socket, so it calls libc's socket/sendto through bun:ffi (reference/ecosystem.md §8.1).
 * A no-op outside systemd (no NOTIFY_SOCKET) and on any failure: readiness must never crash the daemon.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";

type Libc = ReturnType<typeof openLibc>;
let libc: Libc | null | undefined;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
}

const AF_UNIX = 1;
const SOCK_DGRAM_CLOEXEC = 2 | 0o2000000;

/** Sends `state` to systemd; returns false when not under systemd or when it could not be sent. */
export function sdNotify(state: string, socketPath = process.env.NOTIFY_SOCKET): boolean {
  if (!socketPath) return false;
  try {
    libc ??= openLibc();
  } catch {
    libc = null;
  }
  if (!libc) return false;
  const abstract = socketPath.startsWith("@");
  const name = Buffer.from(abstract ? "\0" + socketPath.slice(1) : socketPath);
  const address = Buffer.alloc(2 + name.length + (abstract ? 0 : 1));
  address.writeUInt16LE(AF_UNIX, 0);
  name.copy(address, 2);
  const fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const message = Buffer.from(state);
    return Number(libc.symbols.sendto(fd, ptr(message), message.length, 0, ptr(address), address.length)) === message.length;
  } finally {
    libc.symbols.close(fd);
  }
}

/**
 * Pings the watchdog at half of `WATCHDOG_USEC` when systemd asks for it, but only while `alive()` holds, so a wedged
 * poll loop (not just a live event loop) gets the daemon restarted. Returns a stop function.
 */
export function startWatchdog(alive: () => boolean, usec = Number(process.env.WATCHDOG_USEC)): () => void {
  if (!usec) return () => undefined;
  const timer = setInterval(() => {
    if (alive()) sdNotify("WATCHDOG=1");
  }, Math.max(1000, usec / 2000));
  return () => clearInterval(timer);
}
