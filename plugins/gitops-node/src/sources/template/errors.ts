import { InputError } from '@backstage/errors';

/**
 * A template that does not parse or fails while executing. An InputError,
 * because the fix is always in the user's template or its data.
 */
export class TemplateError extends InputError {
  /** 1-based position in the template as the user wrote it. */
  readonly line: number;
  readonly column: number;
  readonly reason: string;

  constructor(
    templateName: string,
    line: number,
    column: number,
    reason: string,
  ) {
    super(`template: ${templateName}:${line}:${column}: ${reason}`);
    this.line = line;
    this.column = column;
    this.reason = reason;
  }

  /**
   * `firstLine` lets a caller prepend fixed text (the commit prefix) and
   * still report positions in the user's own template.
   */
  static at(
    templateName: string,
    src: string,
    pos: number,
    reason: string,
    firstLine: number,
  ): TemplateError {
    const before = src.slice(0, pos);
    const lineStart = before.lastIndexOf('\n') + 1;
    const line = (before.match(/\n/g)?.length ?? 0) + firstLine;
    return new TemplateError(templateName, line, pos - lineStart + 1, reason);
  }
}
