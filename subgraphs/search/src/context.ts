import type { PrismaClient } from '@tatkal/db';
import type { RequestContext } from '@tatkal/common';
import type { ResilientSearch } from './backends/resilient.ts';
import type { ServedBy } from './backends/types.ts';

export interface SearchContext extends RequestContext {
  prisma: PrismaClient;
  search: ResilientSearch;
  /** Which engine answered this request's searches: sent as `extensions.searchBackend`. */
  served: { backend: ServedBy | null };
}
