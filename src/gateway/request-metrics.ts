// Step 1 of the gateway, beside the access log: every answered request is reported to the metrics
// (src/metrics/metrics.ts) once its response finishes or its connection closes first. The route
// label is the registry route table's name for the path (bounded, never the raw path), or the
// gateway step that answered it itself (`ping`, `auth`), or `other`.
import type { RequestHandler } from 'express';
import { routeName } from '../registry/routes.js';
import { recordRequest } from '../metrics/metrics.js';
import { countBytes } from './access-log.js';
import { rawPath, requestState } from './request-state.js';

export function requestMetrics(): RequestHandler {
  return (req, res, next) => {
    const state = requestState(req);
    countBytes(req, res);
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      const route = state.answeredBy ?? routeName(rawPath(req)) ?? 'other';
      const seconds = Number(process.hrtime.bigint() - state.startedAt) / 1e9;
      recordRequest(route, req.method ?? 'OTHER', res.statusCode, seconds, state.bytesIn, state.bytesOut);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}
