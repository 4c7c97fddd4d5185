// Parents of the resolvers that are no Prisma or domain type (see `mappers` in schema-checks/resolvers.ts).

/** A reservation as payment knows one: booking's id, referenced by the gateway. */
export interface ReservationRef {
  id: string;
}

/** A user as payment knows one: auth's id, referenced by the gateway. */
export interface UserRef {
  id: string;
}
