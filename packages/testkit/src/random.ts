// Shared by tests and benchmarks (neither imports the other); the PRNG lives in @tatkal/common.
export { seededRandom } from '@tatkal/common';
