/** An error the CLI reports on stderr and turns into an exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** 2: bad usage or invalid input (also every 4xx answer); 1: anything else. */
    readonly exitCode = 2,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usage = (message: string, field?: string) => new CliError('USAGE', message, 2, field);
