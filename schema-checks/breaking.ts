// Classifies API schema changes with GraphQL Inspector, so CI can block changes that break clients.
import { CriticalityLevel, diff, type Change } from '@graphql-inspector/core';
import { buildSchema } from './graphql.ts';

export type { Change };

export interface SchemaChanges {
  breaking: Change[];
  dangerous: Change[];
  safe: Change[];
}

export async function findSchemaChanges(oldSdl: string, newSdl: string): Promise<SchemaChanges> {
  const changes = await diff(buildSchema(oldSdl), buildSchema(newSdl));
  const result: SchemaChanges = { breaking: [], dangerous: [], safe: [] };
  for (const change of changes) {
    switch (change.criticality.level) {
      case CriticalityLevel.Breaking:
        result.breaking.push(change);
        break;
      case CriticalityLevel.Dangerous:
        result.dangerous.push(change);
        break;
      case CriticalityLevel.NonBreaking:
        result.safe.push(change);
        break;
    }
  }
  return result;
}

/** One readable line: "BREAKING    Field 'x' was removed from object type 'Query'". */
export function formatChange(change: Change): string {
  return `${change.criticality.level.padEnd(12)}${change.message}`;
}
