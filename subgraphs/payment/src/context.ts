import type { PrismaClient } from '@tatkal/db';
import type { RequestContext } from '@tatkal/common';

export interface PaymentContext extends RequestContext {
  prisma: PrismaClient;
}
