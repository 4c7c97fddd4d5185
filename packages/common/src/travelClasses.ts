// The API's travel classes (booking's TravelClass enum) and their codes as printed on tickets:
// booking answers with them and search accepts either, so both read this one table.

export const TRAVEL_CLASSES = [
  'FIRST_AC',
  'SECOND_AC',
  'THIRD_AC',
  'SLEEPER',
  'CHAIR_CAR',
  'EXEC_CHAIR',
  'SECOND_SEATING',
] as const;
export type TravelClassName = (typeof TRAVEL_CLASSES)[number];

export const CLASS_CODE: Record<TravelClassName, string> = {
  FIRST_AC: '1A',
  SECOND_AC: '2A',
  THIRD_AC: '3A',
  SLEEPER: 'SL',
  CHAIR_CAR: 'CC',
  EXEC_CHAIR: 'EC',
  SECOND_SEATING: '2S',
};

export const CLASS_BY_CODE: Record<string, TravelClassName> = Object.fromEntries(
  Object.entries(CLASS_CODE).map(([name, code]) => [code, name as TravelClassName]),
);
