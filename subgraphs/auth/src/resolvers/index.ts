import type { User } from '@tatkal/db';
import { badInput, byKeys, DateTimeScalar, forbidden, isUuid, requestLoader, unauthenticated } from '@tatkal/common';
import type { AuthContext } from '../context.ts';
import type { Resolvers } from '../generated/resolvers.ts';
import { login, logout, refresh, register } from '../domain/sessions.ts';
import { requestIdentityCode, setUserRole, verifyIdentity } from '../domain/identity.ts';

/** Marks the user of a session just issued to the caller: they may read their own contact details. */
const SESSION_USER = Symbol('sessionUser');
const mayReadContact = (user: User, ctx: AuthContext) =>
  (user as User & { [SESSION_USER]?: boolean })[SESSION_USER] === true ||
  ctx.identity?.userId === user.id ||
  ctx.identity?.role === 'ADMIN';

/** Users by id, one query for all the references of a request; null for an unknown id. */
const usersById = requestLoader(async (ids: string[], ctx: AuthContext): Promise<(User | null)[]> => {
  const valid = ids.filter(isUuid);
  const rows = valid.length ? await ctx.prisma.user.findMany({ where: { id: { in: valid } } }) : [];
  return byKeys(ids, rows, (u) => u.id);
});

const decodeCursor = (cursor: string) => {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw badInput('Invalid cursor', 'after');
  return id;
};

export const resolvers: Resolvers = {
  DateTime: DateTimeScalar,
  Query: {
    me: (_, __, ctx) => (ctx.identity ? ctx.prisma.user.findUnique({ where: { id: ctx.identity.userId } }) : null),
    users: async (_, args, ctx) => {
      if (!ctx.identity) throw unauthenticated();
      if (ctx.identity.role !== 'ADMIN') throw forbidden('Only administrators can list users');
      const first = args.first ?? 20;
      if (first < 1 || first > 100) throw badInput('first must be between 1 and 100', 'first');
      const rows = await ctx.prisma.user.findMany({
        take: first + 1,
        ...(args.after ? { cursor: { id: decodeCursor(args.after) }, skip: 1 } : {}),
        orderBy: { id: 'asc' },
      });
      const nodes = rows.slice(0, first);
      return {
        nodes,
        nextCursor: rows.length > first ? Buffer.from(nodes[nodes.length - 1]!.id).toString('base64url') : null,
      };
    },
  },
  Mutation: {
    register: (_, args, ctx) => register(ctx, args.input),
    login: (_, args, ctx) => login(ctx, args.email, args.password),
    refreshSession: (_, args, ctx) => refresh(ctx, args.refreshToken),
    logout: (_, args, ctx) => logout(ctx, args.refreshToken),
    // Signed in (authPermissions): the identity is there.
    requestIdentityCode: (_, args, ctx) => requestIdentityCode(ctx, ctx.identity!, args.idempotencyKey),
    verifyIdentity: (_, args, ctx) => verifyIdentity(ctx, ctx.identity!, args.code),
    setUserRole: (_, args, ctx) => setUserRole(ctx.prisma, ctx.identity!, args.userId, args.role),
  },
  User: {
    identityVerified: (user) => user.identityVerifiedAt !== null,
    // Only for the user themself or an admin: an id someone learned must not reveal a name. No
    // plan of the supergraph resolves another user's reference here.
    __resolveReference: (ref, ctx) =>
      ctx.identity && (ctx.identity.role === 'ADMIN' || ctx.identity.userId === ref.id)
        ? usersById(ctx).load(ref.id)
        : null,
    // Other people's contact details are not for everyone who can name a user id.
    email: (user, _, ctx) => {
      if (!mayReadContact(user, ctx)) throw forbidden('Only the user or an administrator can read this');
      return user.email;
    },
    phone: (user, _, ctx) => {
      if (!mayReadContact(user, ctx)) throw forbidden('Only the user or an administrator can read this');
      return user.phone;
    },
  },
  AuthPayload: {
    user: (session) => ({ ...session.user, [SESSION_USER]: true }),
  },
  IdentityVerificationPayload: {
    user: (verification) => ({ ...verification.user, [SESSION_USER]: true }),
  },
};
