import fs from 'node:fs';
import path from 'node:path';
import {
  coreServices,
  createServiceFactory,
  type RootLoggerService,
} from '@backstage/backend-plugin-api';

class TestLogger implements RootLoggerService {
  constructor(
    private readonly logs: { add(line: string): void },
    private readonly labels: Record<string, unknown>,
  ) {}

  error(message: string, meta?: Error | object) {
    this.log('error', message, meta);
  }
  warn(message: string, meta?: Error | object) {
    this.log('warn', message, meta);
  }
  info(message: string, meta?: Error | object) {
    this.log('info', message, meta);
  }
  debug(message: string, meta?: Error | object) {
    this.log('debug', message, meta);
  }
  child(meta: Record<string, unknown>): TestLogger {
    return new TestLogger(this.logs, { ...this.labels, ...meta });
  }

  private log(level: string, message: string, meta?: Error | object) {
    let extra = '';
    if (meta instanceof Error) extra = ` ${meta.name}: ${meta.message}`;
    else if (meta && Object.keys(meta).length)
      extra = ` ${JSON.stringify(meta)}`;
    this.logs.add(
      `${new Date().toISOString()} ${level} ${
        this.labels.plugin ?? this.labels.service ?? ''
      } ${message}${extra}`,
    );
  }
}

/** How many of the backend's last log lines a timed-out wait shows. */
const TAIL_LINES = 200;

/**
 * The test backend's logs: the last lines kept in memory, so a test that
 * times out can say what the backend was doing; all of them also go to a
 * file in `GITOPS_TEST_LOG_DIR` when it is set.
 */
export class TestLogs {
  private readonly lines: string[] = [];
  private readonly file?: string;

  constructor(name: string) {
    const dir = process.env.GITOPS_TEST_LOG_DIR;
    if (dir) {
      fs.mkdirSync(dir, { recursive: true });
      this.file = path.join(dir, `${name}-${process.pid}-${Date.now()}.log`);
    }
  }

  add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
    if (this.file) fs.appendFileSync(this.file, `${line}\n`);
  }

  tail(): string {
    return this.lines.join('\n');
  }

  /** The root logger service that writes here, at debug level. */
  factory() {
    return createServiceFactory({
      service: coreServices.rootLogger,
      deps: {},
      factory: () => new TestLogger(this, {}),
    });
  }
}

