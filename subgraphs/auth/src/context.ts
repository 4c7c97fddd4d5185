import type { PrismaClient } from '@tatkal/db';
import type { RequestContext } from '@tatkal/common';
import type { IdentityDeps } from './domain/identity.ts';
import type { SessionDeps } from './domain/sessions.ts';

export interface AuthDeps extends SessionDeps, IdentityDeps {
  prisma: PrismaClient;
}

export interface AuthContext extends RequestContext, AuthDeps {}
