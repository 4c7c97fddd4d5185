// Under Vitest a bare 'graphql' import resolves to graphql's ESM build (its package.json "module"
// field), while @apollo/composition and @graphql-inspector/core load the CommonJS build, and mixing
// the two fails with "Cannot use GraphQLSchema from another module or realm". Importing the CommonJS
// entry explicitly gives one graphql instance under both Node (tsx) and Vitest.
export { buildSchema, Kind, parse, printSchema } from 'graphql/index.js';
export type { EnumTypeDefinitionNode } from 'graphql/index.js';
