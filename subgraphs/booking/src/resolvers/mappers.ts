// Parents of the resolvers that are no domain type (see `mappers` in schema-checks/resolvers.ts).

/** A user as booking knows one: the key another subgraph referenced. */
export interface UserRef {
  id: string;
}
