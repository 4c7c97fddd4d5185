// The gateway benchmark's variants and workloads: Hive Gateway beside the stack, the routes every
// variant answers alike, and the two workloads (cross-subgraph query, reserveSeats).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { TrainsBetweenQuery } from '@tatkal/client';
import type { PrismaClient } from '@tatkal/db';
import { startProcess, type RunningProcess } from '../../packages/testkit/src/processes.ts';
import { createTestRun } from '../../packages/testkit/src/trainRun.ts';
import { benchClient, outcomeOf, reserveInput } from '../load.ts';
import type { Stack } from '../stack.ts';
import type { SigningKey } from '../../subgraphs/auth/src/domain/keys.ts';
import { mintTokens } from '../tokens.ts';
import { BERTHS_PER_COACH, coachesFor, HIVE, root, ROUTES } from './options.ts';

export interface Gateway {
  name: string;
  url: string;
  process: RunningProcess;
  /** How the client sends each operation: its trusted-document hash or its text. */
  documents: 'hash' | 'text';
}

/**
 * A workload prepared for one phase: `send(gateway, i)` makes request i and names its outcome
 * (OK, HELD, or an error code).
 */
export interface Prepared {
  send: (gateway: Gateway, i: number) => Promise<string>;
}
export interface Workload {
  name: string;
  success: string[];
  prepare: (count: number) => Promise<Prepared>;
}

const trainsBetween = (
  gateway: Gateway,
  variables: { from: string; to: string; date: string },
): Promise<TrainsBetweenQuery['trainsBetween']> => benchClient(gateway.url, gateway.documents).trainsBetween(variables);

/** Hive Gateway (its CLI, one process) over the same supergraph and the stack's subgraphs. */
export function startHive(stack: Stack): Promise<RunningProcess> {
  const urls = Object.fromEntries(
    Object.entries(stack.subgraphs).map(([name, url]) => [`${name.toUpperCase()}_URL`, url]),
  );
  return startProcess(
    'hive-gateway',
    'hive-gateway',
    {
      NODE_ENV: 'production',
      ...urls,
      PERSISTED_DOCUMENTS_PATH: join(root, 'packages/client/src/gql/persisted-documents.json'),
    },
    {
      command: HIVE,
      args: [
        'supergraph',
        join(root, 'supergraph.graphql'),
        '--config-path',
        join(root, 'bench/gateway.config.ts'),
        '--host',
        '127.0.0.1',
        '--fork',
        '1',
      ],
      readyPath: '/readiness',
    },
  );
}

/** The four variants: this gateway and Hive, each by hashes and by full text. */
export function variants(stack: Stack, hive: RunningProcess): Gateway[] {
  const own = stack.processes.find((p) => p.name === 'gateway')!;
  const ownText = stack.processes.find((p) => p.name === 'gateway-text')!;
  return [
    { name: 'this gateway, hashes', url: stack.gatewayUrl!, process: own, documents: 'hash' },
    { name: 'this gateway, full text', url: `${ownText.url}/graphql`, process: ownText, documents: 'text' },
    { name: 'Hive Gateway 2.15.1, hashes', url: `${hive.url}/graphql`, process: hive, documents: 'hash' },
    { name: 'Hive Gateway 2.15.1, full text', url: `${hive.url}/graphql`, process: hive, documents: 'text' },
  ];
}

/** Routes with at least one train whose run booking knows; every variant must answer them alike. */
export async function answeredRoutes(gateways: Gateway[], date: string): Promise<(typeof ROUTES)[number][]> {
  const routes: (typeof ROUTES)[number][] = [];
  for (const route of ROUTES) {
    const variables = { from: route[0], to: route[1], date };
    const answers = await Promise.all(
      gateways.map((g) =>
        trainsBetween(g, variables).catch((err: unknown) => {
          throw new Error(`${route.join('-')} via ${g.name}: ${outcomeOf(err)} ${(err as Error).message}`);
        }),
      ),
    );
    for (const a of answers.slice(1))
      if (!isDeepStrictEqual(a, answers[0])) throw new Error(`the gateways answer ${route.join('-')} differently`);
    if (answers[0]!.some((t) => t.run)) routes.push(route);
  }
  if (routes.length === 0) throw new Error(`no train with a run between the routes on ${date}`);
  return routes;
}

/** trainsBetween (search) with each train's run availability (booking), anonymous, over the routes. */
export function crossWorkload(routes: (typeof ROUTES)[number][], date: string): Workload {
  return {
    name: 'cross-subgraph query',
    success: ['OK'],
    prepare: async () => {
      const variables = routes.map(([from, to]) => ({ from, to, date }));
      return {
        send: async (gateway, i) => {
          try {
            const trains = await trainsBetween(gateway, variables[i % variables.length]!);
            return trains.some((t) => t.run && Array.isArray(t.run.availability)) ? 'OK' : 'NO_AVAILABILITY';
          } catch (err) {
            return outcomeOf(err);
          }
        },
      };
    },
  };
}

/** reserveSeats on a fresh run per phase with berths for every request, a fresh user per request. */
export function reserveWorkload(prisma: PrismaClient, key: SigningKey): Workload {
  return {
    name: 'reserveSeats',
    success: ['HELD'],
    prepare: async (count) => {
      const run = await createTestRun(prisma, {
        coaches: coachesFor(count),
        berthsPerCoach: BERTHS_PER_COACH,
        daysAhead: 1,
      });
      const tokens = await mintTokens(key, count);
      const inputs = Array.from({ length: count }, (_, i) => reserveInput(i, run));
      return {
        send: async (gateway, i) => {
          try {
            // A fresh idempotency key per request (the client makes one); no retry, no polling.
            return (
              await benchClient(gateway.url, gateway.documents, tokens[i]).reserve(inputs[i]!, {
                wait: false,
                retry: false,
                idempotencyKey: randomUUID(),
              })
            ).status;
          } catch (err) {
            return outcomeOf(err);
          }
        },
      };
    },
  };
}
