// Progress for long commands: a bar on a terminal (cli-progress), and without one (logs, CI, Slurm)
// a plain line at most every 10 seconds and at the end. A resumed run's bar starts where it was.
import cliProgress from 'cli-progress';

export interface ProgressBar {
  start(total: number, done: number, fields?: Record<string, string>): void;
  update(done: number, fields?: Record<string, string>): void;
  stop(): void;
}

/** `format` uses {value}, {total}, {bar}, {eta_formatted} and the caller's {fields}. */
export function progressBar(format: string, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar({ format, stream, hideCursor: true }, cliProgress.Presets.shades_classic);
    let running = false;
    return {
      start: (total, done, fields) => {
        if (running) bar.stop();
        bar.start(total, done, fields);
        running = true;
      },
      update: (done, fields) => bar.update(done, fields),
      stop: () => {
        if (running) bar.stop();
        running = false;
      },
    };
  }
  let total = 0;
  let last = 0;
  let fields: Record<string, string> = {};
  let value = 0;
  const line = () => {
    const text = format
      .replace(/\{bar\}\s*/, '')
      .replace('{value}', String(value))
      .replace('{total}', String(total))
      .replace(/\s*\|?\s*ETA \{eta_formatted\}/, '')
      .replace(/\{(\w+)\}/g, (_, k: string) => fields[k] ?? '-');
    stream.write(`${text}\n`);
    last = performance.now();
  };
  return {
    start: (t, done, f = {}) => {
      [total, value, fields] = [t, done, { ...fields, ...f }];
      last = performance.now();
    },
    update: (done, f = {}) => {
      [value, fields] = [done, { ...fields, ...f }];
      if (performance.now() - last >= 10_000) line();
    },
    stop: () => {
      if (total) line();
      total = 0;
    },
  };
}
