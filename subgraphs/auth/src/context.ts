import type { PrismaClient } from '@tatkal/db';
import type { RequestContext } from '@tatkal/common';
import type { SessionDeps } from './domain/sessions.ts';

export interface AuthDeps extends SessionDeps {
  prisma: PrismaClient;
}

export interface AuthContext extends RequestContext, AuthDeps {}
