import type { FastifyError, FastifyInstance } from 'fastify';
import { isAppError } from '../core/errors.js';

/** Maps every error to `{"error":{"code","message","field?"}}` with a 4xx/5xx status. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isAppError(err)) {
      // The store is unreachable (a database restart): clients retry after a moment.
      if (err.statusCode === 503) reply.header('retry-after', '1');
      return reply.status(err.statusCode).send(body(err.code, err.message, err.field));
    }
    if (err.validation !== undefined) {
      const first = err.validation[0];
      const path = first?.instancePath ?? '';
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty;
      const field = toField(path, missing ?? extra);
      const where = err.validationContext === 'body' ? '' : `${err.validationContext} `;
      const what = extra !== undefined ? `unknown field '${extra}'` : (first?.message ?? 'is invalid');
      return reply
        .status(400)
        .send(
          body('VALIDATION_FAILED', `${where}${field === '' ? '' : `${field}: `}${what}`, field || undefined),
        );
    }
    const code = err.code ?? '';
    if (
      code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
      err instanceof SyntaxError
    ) {
      return reply.status(400).send(body('INVALID_JSON', `request body is not valid JSON: ${err.message}`));
    }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.status(413).send(body('BODY_TOO_LARGE', err.message));
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.status(415).send(body('UNSUPPORTED_MEDIA_TYPE', 'send application/json'));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.status(status).send(body('BAD_REQUEST', err.message));
    if (status === 503) return reply.status(503).send(body('UNAVAILABLE', err.message));
    request.log.error({ err }, 'internal error');
    return reply.status(500).send(body('INTERNAL_ERROR', 'internal error; see the server log'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(body('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

function body(code: string, message: string, field?: string) {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** `/tasks/3/priority` → `tasks[3].priority`. */
function toField(instancePath: string, leaf: string | undefined): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  if (leaf !== undefined) parts.push(leaf);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}
