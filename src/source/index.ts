import { InvalidOptionError } from '../errors.js';
import type { RateGate } from '../util/rate-limiter.js';
import { createDemoSource } from './demo/index.js';
import type { Source, SourceSpec } from './types.js';

export interface SourceContext {
  /** The request rate shared by every fetch worker. */
  rateLimiter: RateGate;
}

/**
 * Turns a serialisable source description into a working source. Runs inside each fetch
 * worker, so every worker has its own HTTP client or generator and no state crosses threads.
 */
export async function createSource(spec: SourceSpec, context: SourceContext): Promise<Source> {
  switch (spec.kind) {
    case 'demo':
      return withRateLimit(createDemoSource(spec.options), context.rateLimiter);
    case 'yahoo': {
      const { createYahooSource } = await import('./yahoo/source.js');
      return createYahooSource(spec.options, context);
    }
    case 'file': {
      const { createFileSource } = await import('./file/source.js');
      return createFileSource(spec.options);
    }
    default:
      throw new InvalidOptionError('source.kind', 'one of demo, yahoo, file', (spec as { kind: unknown }).kind);
  }
}

/** Sources that make no requests of their own get the shared limit applied per page. */
function withRateLimit(source: Source, limiter: RateGate): Source {
  if (!limiter.limited) return source;
  return {
    kind: source.kind,
    async fetchPage(request) {
      await limiter.acquire(request.signal);
      return source.fetchPage(request);
    },
    ...(source.close ? { close: () => source.close!() } : {}),
  };
}
