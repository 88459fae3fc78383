/**
 * Errors with a stable code and an HTTP status. Callers branch on `code`,
 * never on the message.
 */
export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly field: string | undefined;

  constructor(
    code: string,
    message: string,
    statusCode = 400,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = statusCode;
    this.field = options.field;
  }
}

export const notFound = (code: string, message: string) => new AppError(code, message, 404);
export const invalid = (message: string, field?: string) =>
  new AppError('VALIDATION_FAILED', message, 400, field === undefined ? {} : { field });
export const conflict = (code: string, message: string) => new AppError(code, message, 409);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
