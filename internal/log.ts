/**
 * @module log
 * Structured logging: one JSON object per line, `{ts, level, msg, module, ...fields}`.
 * `msg` is a constant phrase; variables travel as fields. Owns nothing else: where the lines go is
 * the caller's `write` (stderr in the daemon, an array in tests).
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Free-form structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger; `child` adds fields (e.g. `module`) to every line it writes. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Options for {@link createLog}. */
export interface LogOptions {
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Receives each finished line (without newline). @default writes to stderr */
  write?: (line: string) => void;
  /** Clock for `ts`. @default Date.now */
  now?: () => number;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Creates a JSON-lines logger. */
export function createLog(options: LogOptions = {}, base: LogFields = {}): Logger {
  const min = LEVEL_RANK[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < min) return;
    const record = { ts: new Date(now()).toISOString(), level, msg, ...base, ...(fields ? serializable(fields) : {}) };
    write(JSON.stringify(record));
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => createLog(options, { ...base, ...fields }),
  };
}

/** A logger that keeps its records in memory, for tests and for the demo's narration. */
export function memoryLog(level: LogLevel = "debug"): Logger & { records: Array<LogFields & { level: LogLevel; msg: string }> } {
  const records: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const log = createLog({ level, write: (line) => records.push(JSON.parse(line)) });
  return Object.assign(log, { records });
}

/** Errors become `{name, message}` so they survive JSON.stringify. */
function serializable(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
  }
  return out;
}
