import { badInput } from '@tatkal/common';
import type { SearchContext } from '../context.ts';
import { searchStationsPg, stationAliases, type StationHit } from '../backends/postgres.ts';

export const resolvers = {
  Query: {
    searchStations: async (_: unknown, args: { query: string; limit?: number | null }, ctx: SearchContext) => {
      const query = args.query.trim();
      if (!query) throw badInput('Type at least one character to search', 'query');
      if (query.length > 100) throw badInput('Search text must be at most 100 characters', 'query');
      const limit = args.limit ?? 10;
      if (limit < 1 || limit > 50) throw badInput('limit must be between 1 and 50', 'limit');
      return searchStationsPg(ctx.prisma, query, limit);
    },
  },
  StationHit: {
    station: (hit: StationHit) => ({ code: hit.code, aliases: hit.aliases }),
  },
  Station: {
    __resolveReference: async (ref: { code: string }, ctx: SearchContext) => {
      const aliases = await stationAliases(ctx.prisma, ref.code);
      return aliases === null ? null : { code: ref.code, aliases };
    },
  },
};
