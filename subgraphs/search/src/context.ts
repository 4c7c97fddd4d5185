import type { PrismaClient } from '@tatkal/db';
import type { RequestContext } from '@tatkal/common';

export interface SearchContext extends RequestContext {
  prisma: PrismaClient;
}
