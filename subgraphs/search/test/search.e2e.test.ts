// Search through the gateway: hits joined with booking's Station/Train fields, and trainsBetween
// whose run is resolved by booking (availability) in the same request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, todayInIndia } from '@tatkal/common';
import { startSupergraph, type RunningSupergraph } from '../../../test/support/supergraph.ts';

let sg: RunningSupergraph;

interface GraphQLResponse {
  // biome-ignore lint/suspicious/noExplicitAny: the tests read many queries' answers by path, untyped.
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

async function gql(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: GraphQLResponse }> {
  const res = await fetch(sg.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as GraphQLResponse };
}

beforeAll(async () => {
  sg = await startSupergraph('e2e_search');
});
afterAll(async () => {
  await sg?.stop();
});

describe('search through the gateway', () => {
  it('searchStations joins booking fields to the hits', async () => {
    const { body } = await gql(
      `{
        searchStations(query: "madras", first: 2) {
          name score highlights { field value start length } station { code name state aliases }
        }
      }`,
    );
    expect(body.errors).toBeUndefined();
    const codes = body.data!.searchStations.map((h: { station: { code: string } }) => h.station.code).sort();
    expect(codes).toEqual(['MAS', 'MS']);
    for (const hit of body.data!.searchStations) {
      expect(hit.station.state).toBe('Tamil Nadu');
      expect(hit.name).toBe(hit.station.name);
      expect(hit.highlights[0]).toMatchObject({ field: 'alias', value: 'Madras', start: 0, length: 6 });
    }
  });

  it('searchTrains returns Train references booking resolves', async () => {
    const { body } = await gql(
      `{ searchTrains(query: "12951", first: 1) { number train { number name runsOn stops { station { code } } } } }`,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data!.searchTrains[0].train).toMatchObject({
      number: '12951',
      name: 'Mumbai Central - New Delhi Rajdhani Express',
    });
    expect(body.data!.searchTrains[0].train.stops[0].station.code).toBe('MMCT');
  });

  it('trainsBetween { run { availability } } is answered by booking in the same request', async () => {
    const date = addDays(todayInIndia(), 3);
    const { body } = await gql(
      `query($date: Date!) { trainsBetween(from: "MMCT", to: "NDLS", date: $date, class: "3A") {
        number departure arrival durationMinutes
        run {
          id trainNumber date
          availability(from: "MMCT", to: "NDLS", class: THIRD_AC) { code totalBerths availableBerths farePaise }
        }

      } }`,
      { date },
    );
    expect(body.errors).toBeUndefined();
    const rajdhani = body.data!.trainsBetween.find((t: { number: string }) => t.number === '12951');
    const run = await sg.db.prisma.trainRun.findFirstOrThrow({
      where: { train: { number: '12951' }, date: new Date(`${date}T00:00:00Z`) },
    });
    expect(rajdhani).toMatchObject({
      departure: '17:00',
      arrival: '08:32',
      durationMinutes: 932,
      run: { id: run.id, trainNumber: '12951', date },
    });
    expect(rajdhani.run.availability).toHaveLength(1);
    expect(rajdhani.run.availability[0]).toMatchObject({ code: '3A' });
    expect(rajdhani.run.availability[0].availableBerths).toBeGreaterThan(0);
  });

  it('bad input is BAD_USER_INPUT through the gateway, never a 500', async () => {
    for (const query of [
      `{ searchStations(query: "  ") { score } }`,
      `{ searchStations(query: "*") { score } }`,
      `{ searchTrains(query: "${'x'.repeat(201)}") { score } }`,
      `{ trainsBetween(from: "XXXX", to: "NDLS", date: "${addDays(todayInIndia(), 3)}") { number } }`,
      `{ trainsBetween(from: "MMCT", to: "NDLS", date: "${addDays(todayInIndia(), -1)}") { number } }`,
    ]) {
      const { status, body } = await gql(query);
      expect({ query, status: status < 500, codes: body.errors?.map((e) => e.extensions?.code) }).toEqual({
        query,
        status: true,
        codes: ['BAD_USER_INPUT'],
      });
    }
    const { body } = await gql(`{ searchStations(query: "NDLS~2 AND (x:y)") { station { code } } }`);
    expect(body.errors).toBeUndefined();
    expect(body.data!.searchStations[0].station.code).toBe('NDLS');
  });
});
