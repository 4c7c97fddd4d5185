import { DateScalar, requestLoader } from '@tatkal/common';
import type { SearchContext } from '../context.ts';
import type { Resolvers } from '../generated/resolvers.ts';
import { stationAliases } from '../backends/postgres.ts';
import type { ServedBy } from '../backends/types.ts';
import { encodeCursor, pageOf, scopeOf } from '../domain/paging.ts';
import { normalizeQuery } from '../domain/text.ts';
import { connectionsBetween, loadRoutes, validateTrainsBetween } from '../domain/trainsBetween.ts';

/** A fallback anywhere in the request is what the response reports. */
function noteServed(ctx: SearchContext, servedBy: ServedBy) {
  if (ctx.served.backend !== 'postgres-fallback') ctx.served.backend = servedBy;
}

/** One query for the aliases of every station a request names (entity references, trainsBetween's from/to). */
const aliasesByCode = requestLoader((codes: string[], ctx: SearchContext) => stationAliases(ctx.prisma, codes));

export const resolvers: Resolvers = {
  Date: DateScalar,
  Query: {
    searchStations: async (_, args, ctx) => {
      const q = normalizeQuery(args.query);
      const scope = scopeOf('stations', q.text);
      const page =
        args.first != null
          ? pageOf(args, scope, 10)
          : pageOf({ first: args.limit, after: args.after }, scope, 10, 'limit');
      const { hits, servedBy } = await ctx.search.searchStations(q, page);
      noteServed(ctx, servedBy);
      return hits.map((hit, i) => ({ ...hit, cursor: encodeCursor(scope, page.offset + i + 1) }));
    },
    searchTrains: async (_, args, ctx) => {
      const q = normalizeQuery(args.query);
      const scope = scopeOf('trains', q.text);
      const page = pageOf(args, scope, 10);
      const { hits, servedBy } = await ctx.search.searchTrains(q, page);
      noteServed(ctx, servedBy);
      return hits.map((hit, i) => ({ ...hit, cursor: encodeCursor(scope, page.offset + i + 1) }));
    },
    trainsBetween: async (_, args, ctx) => {
      const input = validateTrainsBetween(args);
      const scope = scopeOf('between', input.from, input.to, input.date, input.classCode);
      const page = pageOf(args, scope, 20);
      const routes = await loadRoutes(ctx.prisma, input.from, input.to);
      const all = connectionsBetween(routes, input.from, input.to, input.date, input.classCode);
      return all
        .slice(page.offset, page.offset + page.size)
        .map((c, i) => ({ ...c, cursor: encodeCursor(scope, page.offset + i + 1) }));
    },
  },
  StationHit: {
    station: (hit) => ({ code: hit.code, aliases: hit.aliases }),
  },
  TrainHit: {
    train: (hit) => ({ number: hit.number }),
  },
  TrainBetween: {
    train: (c) => ({ number: c.number }),
    from: (c) => ({ code: c.from }),
    to: (c) => ({ code: c.to }),
    run: (c) => ({ trainNumber: c.number, date: c.originDate }),
  },
  Station: {
    // Only the key counts: a representation's other fields come from whoever called _entities.
    __resolveReference: async (ref, ctx) => {
      const aliases = await aliasesByCode(ctx).load(ref.code);
      return aliases === null ? null : { code: ref.code, aliases };
    },
    aliases: async (station, _, ctx) => station.aliases ?? (await aliasesByCode(ctx).load(station.code)) ?? [],
  },
};
